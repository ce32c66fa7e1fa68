import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as core from '../src/util/core.js';
import { parseCommandFile } from '../scripts/runner.mjs';

let dir = '';
let out: string[] = [];
const saved = { ...process.env };

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-'));
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  jest.restoreAllMocks();
  process.env = { ...saved };
  process.exitCode = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('runner commands', () => {
  it('writes outputs and state as delimited blocks the runner reads back, multi-line values intact', () => {
    for (const v of ['GITHUB_OUTPUT', 'GITHUB_STATE']) {
      process.env[v] = path.join(dir, v);
      fs.writeFileSync(process.env[v] as string, '');
    }
    core.setOutput('metadata', '{"a":1}\nsecond line');
    core.setOutput('digest', 'sha256:1');
    core.saveState('multiarch', '{"tempDir":"/t"}');
    expect(parseCommandFile(fs.readFileSync(path.join(dir, 'GITHUB_OUTPUT'), 'utf8'))).toEqual({
      metadata: '{"a":1}\nsecond line',
      digest: 'sha256:1',
    });
    expect(parseCommandFile(fs.readFileSync(path.join(dir, 'GITHUB_STATE'), 'utf8'))).toEqual({ multiarch: '{"tempDir":"/t"}' });
    expect(out).toEqual([]);
  });

  it('falls back to stdout commands without the files, and fails on a file that is gone', () => {
    delete process.env.GITHUB_OUTPUT;
    delete process.env.GITHUB_STATE;
    core.setOutput('digest', 'a\nb');
    core.saveState('k', 'v');
    expect(out.join('')).toBe(`${os.EOL}::set-output name=digest::a%0Ab${os.EOL}::save-state name=k::v${os.EOL}`);
    process.env.GITHUB_OUTPUT = path.join(dir, 'missing');
    expect(() => core.setOutput('x', 'y')).toThrow('Missing file at path');
  });

  it('reads inputs (upper case, spaces as underscores, hyphens kept, trimmed) and state', () => {
    process.env['INPUT_BUILD-ARGS'] = '  A=1\n';
    process.env['INPUT_MY_INPUT'] = 'x';
    process.env.STATE_multiarch = 's';
    expect([
      core.getInput('build-args'),
      core.getInput('my input'),
      core.getInput('absent'),
      core.getState('multiarch'),
      core.getState('none'),
    ]).toEqual(['A=1', 'x', '', 's', '']);
  });

  it('logs, masks with escaped newlines, groups even when the body throws, and fails the step', async () => {
    core.info('plain line');
    core.debug('50% done');
    core.warning('careful');
    core.setSecret('p\r\nw');
    await expect(core.group('Build', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    core.setFailed('linux/arm64: build failed\nlast lines');
    expect(out.join('')).toBe(
      [
        'plain line',
        '::debug::50%25 done',
        '::warning::careful',
        '::add-mask::p%0D%0Aw',
        '::group::Build',
        '::endgroup::',
        '::error::linux/arm64: build failed%0Alast lines',
        '',
      ].join(os.EOL),
    );
    expect(process.exitCode).toBe(1);
  });

  it('appends to the job summary when there is one', () => {
    delete process.env.GITHUB_STEP_SUMMARY;
    core.appendSummary('# nothing');
    process.env.GITHUB_STEP_SUMMARY = path.join(dir, 'summary.md');
    core.appendSummary('## one');
    core.appendSummary('## two');
    expect(fs.readFileSync(path.join(dir, 'summary.md'), 'utf8')).toBe(`## one${os.EOL}## two${os.EOL}`);
  });
});
