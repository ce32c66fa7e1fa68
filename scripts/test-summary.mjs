// Prints one closing line over jest's --json result files:
//   tests: N passed, N failed, N skipped
// so a reader (or CI) sees the whole count of unit and end-to-end tests at once.
import * as fs from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
const files = process.argv.slice(2).filter((f) => fs.existsSync(f));
for (const f of files) {
  const r = JSON.parse(fs.readFileSync(f, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
if (files.length === 0) {
  console.error('test-summary: no result files');
  process.exit(1);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
