// Fails CI unless vitest's JSON report exists and says every test file ran and passed. `npm test`'s exit
// code alone is not enough: a vitest stopped by SIGTERM exits 0 before it has run every file.
import fs from 'node:fs';

const file = process.argv[2] ?? 'test-results.json';
if (!fs.existsSync(file)) {
  console.error(`check-test-report: ${file} is missing: vitest did not finish (stopped or crashed)`);
  process.exit(1);
}
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const files = r.testResults ?? [];
const bad = files.filter((f) => f.status !== 'passed');
const problems = [];
if (!r.success) problems.push('success is false');
if (r.numFailedTests > 0) problems.push(`${r.numFailedTests} failed tests`);
if (r.numTotalTests === 0 || files.length === 0) problems.push('no tests ran');
const skipped = r.numPendingTests + (r.numTodoTests ?? 0);
if (skipped > 0) problems.push(`${skipped} skipped tests (a skipped case is a defect here: make it run or remove it)`);
const onDisk = fs.readdirSync('test', { recursive: true }).filter((f) => String(f).endsWith('.test.ts')).length;
if (files.length !== onDisk) problems.push(`the report covers ${files.length} test files, test/ holds ${onDisk}`);
if (bad.length) problems.push(`files not passed: ${bad.map((f) => f.name).join(', ')}`);
if (problems.length) {
  console.error(`check-test-report: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`check-test-report: ${files.length} files, ${r.numPassedTests} of ${r.numTotalTests} tests passed, none skipped`);
