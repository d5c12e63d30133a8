import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'proto/gen/**', '.data/**', 'test/type-fixtures/**', '*.js', '*.mjs'],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The web UI: build-free ES modules, type-checked through JSDoc by their own tsconfig (lib dom).
  {
    files: ['services/gateway/public/js/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      parserOptions: {
        project: ['services/gateway/public/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The web UI: build-free ES modules, type-checked through JSDoc by their own tsconfig (lib dom).
  {
    files: ['services/gateway/public/js/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      parserOptions: {
        project: ['services/gateway/public/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
