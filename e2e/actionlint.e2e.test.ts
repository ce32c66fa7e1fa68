// The test bed's actionlint (pinned in testbed/versions.env) with Debian's
// shellcheck: what `make actionlint` runs on the workflows.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function lint(workflow: string): { status: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'actionlint-'));
  fs.mkdirSync(path.join(dir, '.github', 'workflows'), { recursive: true });
  const file = path.join(dir, '.github', 'workflows', 'w.yml');
  fs.writeFileSync(file, workflow);
  const r = spawnSync('actionlint', ['-shellcheck=shellcheck', '-no-color', file], { encoding: 'utf8', cwd: dir });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('actionlint in the test bed', () => {
  it('is the pinned version', () => {
    const pinned = /^ACTIONLINT_VERSION=(\S+)$/m.exec(fs.readFileSync('testbed/versions.env', 'utf8'))?.[1];
    const r = spawnSync('actionlint', ['-version'], { encoding: 'utf8' });
    expect(r.stdout.split('\n')[0]).toBe(pinned);
  });

  it('passes a clean workflow', () => {
    const r = lint('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo "$GITHUB_SHA"\n');
    expect(r).toEqual({ status: 0, out: '' });
  });

  it('reports an untrusted expression in a run: script and, through shellcheck, an unquoted variable', () => {
    const r = lint('on: issues\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo $HOME "${{ github.event.issue.title }}"\n');
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/"github\.event\.issue\.title" is potentially untrusted.*\[expression\]/);
    expect(r.out).toMatch(/SC2086.*\[shellcheck\]/);
  });
});
