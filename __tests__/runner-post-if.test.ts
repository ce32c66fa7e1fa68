// The e2e harness (scripts/runner.mjs) starts the post step as the runner
// does: by action.yml's post-if, read after main has ended.
import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { postRuns } from '../scripts/runner.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ok = { failed: false, cancelled: false };
const failed = { failed: true, cancelled: false };
const cancelled = { failed: true, cancelled: true };

describe('postRuns', () => {
  it.each([
    ['always()', [true, true, true]],
    ['success()', [true, false, false]],
    ['failure()', [false, true, false]],
    ['cancelled()', [false, false, true]],
    ['failure() || cancelled()', [false, true, true]],
    ['!cancelled() && failure()', [false, true, false]],
  ])('%s after a successful, a failed and a cancelled main: %j', (expression, want) => {
    expect([ok, failed, cancelled].map((s) => postRuns(expression, s))).toEqual(want);
  });

  it('refuses a condition it cannot read rather than guess', () => {
    expect(() => postRuns("runner.os == 'Linux'", ok)).toThrow('post-if term "runner.os == \'Linux\'" is not understood');
  });

  it("reads action.yml's post-if: post after a failed or cancelled main only", () => {
    const action = parse(fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as { runs: { 'post-if': string } };
    expect([ok, failed, cancelled].map((s) => postRuns(action.runs['post-if'], s))).toEqual([false, true, true]);
  });
});
