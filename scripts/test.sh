#!/usr/bin/env bash
# The project's test command (`npm test`): type-check (services, then the web UI), lint (both),
# format check, then every jest suite against real MariaDB/nginx started by the tests. The last
# line is the plain summary CI reads: "N passed, N failed", taken from jest's JSON results.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .data
results=.data/jest-results.json
rm -f "$results"

echo "test: tsc --noEmit (services, then the web UI's JSDoc-typed modules)"
npx tsc --noEmit || { echo "test: type errors (see above)"; echo "0 passed, 1 failed"; exit 1; }
npx tsc --noEmit -p services/gateway/public || { echo "test: web UI type errors (see above)"; echo "0 passed, 1 failed"; exit 1; }
echo "test: eslint"
npx eslint . || { echo "test: lint errors (see above)"; echo "0 passed, 1 failed"; exit 1; }

echo "test: prettier --check"
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "test: formatting differs (npm run format)"; echo "0 passed, 1 failed"; exit 1; }

echo "test: jest"
npx jest --json --outputFile="$results" "$@"
status=$?
if [ ! -f "$results" ]; then
  echo "test: jest wrote no results"
  echo "0 passed, 1 failed"
  exit 1
fi
node -e '
  const r = require(process.argv[1]);
  const failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
  console.log(`tests: ${r.numPassedTests} passed, ${failed} failed`);
' "$PWD/$results"
exit $status
