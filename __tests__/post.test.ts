import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, post } from '../src/post.js';
import type { Exec } from '../src/exec.js';
import { FakeTools } from './support/fake-exec.js';

const STATE_ENV = 'STATE_multiarch-state';

/** A run's temp dir with what a run leaves in it (metadata, a DOCKER_CONFIG with credentials). */
function runTempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'post-'));
  fs.mkdirSync(path.join(dir, 'docker-config'));
  fs.writeFileSync(path.join(dir, 'docker-config', 'config.json'), '{"auths":{"ghcr.io":{"auth":"eDp5"}}}', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'metadata-linux-arm64.json'), '{}');
  return dir;
}

describe('cleanup', () => {
  let tempDir: string;
  let warnings: string[];
  const warn = (m: string): void => {
    warnings.push(m);
  };

  beforeEach(() => {
    tempDir = runTempDir();
    warnings = [];
  });
  afterEach(() => fs.rmSync(tempDir, { recursive: true, force: true }));

  it('removes the builder the run created and the temp dir with its credentials', async () => {
    const tools = new FakeTools({ existingBuilders: ['multiarch-0a1b2c3d', 'users-own'] });
    await cleanup(tools.exec, { builder: 'multiarch-0a1b2c3d', tempDir }, warn);
    expect(tools.builders).toEqual(new Set(['users-own']));
    expect(fs.existsSync(tempDir)).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('removes no builder when the run created none', async () => {
    const tools = new FakeTools({ existingBuilders: ['users-own'] });
    await cleanup(tools.exec, { tempDir }, warn);
    expect(tools.builders).toEqual(new Set(['users-own']));
    expect(tools.calls).toEqual([]);
    expect(fs.existsSync(tempDir)).toBe(false);
  });

  it('warns when buildx refuses to remove the builder, and still removes the temp dir', async () => {
    const tools = new FakeTools();
    await expect(cleanup(tools.exec, { builder: 'gone-already', tempDir }, warn)).resolves.toBeUndefined();
    expect(warnings).toEqual(['could not remove builder gone-already']);
    expect(fs.existsSync(tempDir)).toBe(false);
  });

  it('warns when docker cannot even be run, and still removes the temp dir', async () => {
    const broken: Exec = async () => {
      throw new Error('Unable to locate executable file: docker');
    };
    await expect(cleanup(broken, { builder: 'multiarch-0a1b2c3d', tempDir }, warn)).resolves.toBeUndefined();
    expect(warnings).toEqual(['could not remove builder multiarch-0a1b2c3d: Unable to locate executable file: docker']);
    expect(fs.existsSync(tempDir)).toBe(false);
  });

  it('warns when the temp dir cannot be removed, without throwing', async () => {
    const bad = `${tempDir}/\u0000bad`;
    await expect(cleanup(new FakeTools().exec, { tempDir: bad }, warn)).resolves.toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^could not remove .*bad: /);
  });

  it('is a no-op for an empty state, and for a temp dir already gone', async () => {
    const tools = new FakeTools();
    await cleanup(tools.exec, {}, warn);
    fs.rmSync(tempDir, { recursive: true });
    await cleanup(tools.exec, { tempDir }, warn);
    expect(warnings).toEqual([]);
    expect(tools.calls).toEqual([]);
  });
});

describe('post', () => {
  let stdout: string[];
  const saved = process.env[STATE_ENV];

  beforeEach(() => {
    stdout = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    if (saved === undefined) delete process.env[STATE_ENV];
    else process.env[STATE_ENV] = saved;
  });

  it('removes the temp dir named in the saved state', async () => {
    const tempDir = runTempDir();
    process.env[STATE_ENV] = JSON.stringify({ tempDir });
    await post();
    expect(fs.existsSync(tempDir)).toBe(false);
    expect(stdout.join('')).not.toContain('::warning::');
  });

  it('does nothing without a saved state (main never ran)', async () => {
    delete process.env[STATE_ENV];
    await expect(post()).resolves.toBeUndefined();
    expect(stdout.join('')).not.toContain('::warning::');
  });

  it('only warns when the saved state is unreadable', async () => {
    process.env[STATE_ENV] = '{"tempDir": "/tmp/x"';
    await expect(post()).resolves.toBeUndefined();
    expect(stdout.join('')).toContain('::warning::nothing cleaned up: the saved state is unreadable');
  });
});
