import { describe, expect, it } from '@jest/globals';
import { CommandError, execCommand, lastLines } from '../src/exec.js';

describe('exec seam', () => {
  it('returns stdout of a successful command', async () => {
    const r = await execCommand('sh', ['-c', 'echo hello'], { silent: true });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe('hello');
  });

  it('fails on a non-zero exit code even when stderr is empty', async () => {
    await expect(execCommand('sh', ['-c', 'exit 3'], { silent: true })).rejects.toMatchObject({
      name: 'CommandError',
      exitCode: 3,
    });
  });

  it('passes when a zero-exit command writes to stderr', async () => {
    const r = await execCommand('sh', ['-c', 'echo warning >&2'], { silent: true });
    expect(r.exitCode).toBe(0);
    expect(r.stderr.trim()).toBe('warning');
  });

  it('returns the failed result when allowFailure is set', async () => {
    const r = await execCommand('sh', ['-c', 'echo bad >&2; exit 2'], { silent: true, allowFailure: true });
    expect(r.exitCode).toBe(2);
  });

  it('puts the last stderr lines into the error message', async () => {
    const err = await execCommand('sh', ['-c', 'for i in $(seq 1 30); do echo line$i >&2; done; exit 1'], { silent: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    const msg = (err as Error).message;
    expect(msg).toContain('line30');
    expect(msg).not.toContain('line10\n');
  });

  it('feeds every output line to onLine and writes stdin', async () => {
    const lines: string[] = [];
    await execCommand('sh', ['-c', 'cat; echo err >&2'], { input: 'a\nb\n', onLine: (l) => lines.push(l) });
    expect(lines.sort()).toEqual(['a', 'b', 'err']);
  });

  it('merges env over the process environment', async () => {
    const r = await execCommand('sh', ['-c', 'echo "$FOO:$PATH"'], { silent: true, env: { FOO: 'bar' } });
    expect(r.stdout.startsWith('bar:/')).toBe(true);
  });

  it("gives a tool none of the action's INPUT_* variables (registry-auth holds passwords), the rest of the environment and env over it", async () => {
    process.env['INPUT_REGISTRY-AUTH'] = '- registry: r.test\n  password: hunter2';
    process.env.INPUT_SECRETS = 'token=s3cret';
    process.env.MULTIARCH_EXEC_TEST_KEPT = 'kept';
    try {
      const r = await execCommand('sh', ['-c', 'env'], { silent: true, env: { EXTRA_VAR: 'extra' } });
      expect(r.stdout).not.toMatch(/INPUT_|hunter2|s3cret/);
      expect(r.stdout).toContain('MULTIARCH_EXEC_TEST_KEPT=kept');
      expect(r.stdout).toContain('EXTRA_VAR=extra');
      const bare = await execCommand('sh', ['-c', 'env'], { silent: true });
      expect(bare.stdout).not.toMatch(/INPUT_|hunter2/);
    } finally {
      delete process.env['INPUT_REGISTRY-AUTH'];
      delete process.env.INPUT_SECRETS;
      delete process.env.MULTIARCH_EXEC_TEST_KEPT;
    }
  });

  it('lastLines keeps only non-empty trailing lines', () => {
    expect(lastLines('a\n\nb\nc\n', 2)).toBe('b\nc');
  });
});
