// The e2e suite drives the bundled dist/ through the runner-like harness in
// scripts/runner.mjs (shared with `make demo`).
export { ROOT, errorLines, parseCommandFile, runAction, runActionAsync } from '../scripts/runner.mjs';
export type { ActionRun, AsyncRunOptions, RunOptions } from '../scripts/runner.mjs';
