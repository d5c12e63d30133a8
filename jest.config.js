// Jest runs TypeScript through swc (no type-check here: `npm test` runs `tsc --noEmit` first).
// globalSetup starts one private MariaDB for the whole run; each suite makes its own databases.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/services', '<rootDir>/election', '<rootDir>/scripts', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // typebox (the HTTP schemas) and content-disposition (under swagger-ui's @fastify/static) ship
    // only ES modules, which Jest on Node 20 cannot require: swc turns them into CommonJS.
    '^.+/node_modules/(typebox/.+\\.mjs|content-disposition/.+\\.js)$': [
      '@swc/jest',
      { jsc: { target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(typebox|content-disposition)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'node'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
