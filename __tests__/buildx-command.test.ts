import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { directBuildx, extraPluginDirs, pickPlugin, pluginCandidates, SYSTEM_PLUGIN_DIRS } from '../src/buildx/command.js';
import type { Exec, ExecOptions } from '../src/exec.js';
import { pluginEntry } from '../src/buildx/plugin.js';

describe('pluginCandidates lists docker-buildx where the docker CLI looks, in its order', () => {
  it('config extra dirs first, then <DOCKER_CONFIG>/cli-plugins, then the system folders', () => {
    const json = JSON.stringify({ cliPluginsExtraDirs: ['/opt/a', '/opt/b'] });
    expect(pluginCandidates('/home/u/.docker', json)).toEqual([
      '/opt/a/docker-buildx',
      '/opt/b/docker-buildx',
      '/home/u/.docker/cli-plugins/docker-buildx',
      ...SYSTEM_PLUGIN_DIRS.map((d) => `${d}/docker-buildx`),
    ]);
  });

  it.each([
    ['no config', undefined],
    ['a config that is not JSON', '{not json'],
    ['extra dirs that are not a list', '{"cliPluginsExtraDirs": "/opt/a"}'],
    ['null', 'null'],
  ])('%s: no extra dirs', (_, json) => {
    expect(extraPluginDirs(json)).toEqual([]);
    expect(pluginCandidates('/c', json)[0]).toBe('/c/cli-plugins/docker-buildx');
  });

  it('skips entries that are not strings', () => {
    expect(extraPluginDirs('{"cliPluginsExtraDirs": [1, "", "/opt/x", null]}')).toEqual(['/opt/x']);
  });
});

describe('pickPlugin stops where the docker CLI stops', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugins-'));
  const file = (name: string, mode: number): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, '#!/bin/sh\n');
    fs.chmodSync(f, mode);
    return f;
  };
  const notExec = file('not-exec', 0o644);
  const exec1 = file('exec1', 0o755);
  const exec2 = file('exec2', 0o755);
  const folder = path.join(dir, 'folder');
  fs.mkdirSync(folder);
  const link = path.join(dir, 'link');
  fs.symlinkSync(exec2, link);
  const dangling = path.join(dir, 'dangling');
  fs.symlinkSync(path.join(dir, 'nowhere'), dangling);
  const missing = path.join(dir, 'missing');

  it('passes over missing paths and dangling links to the first plugin', () => {
    expect(pickPlugin([missing, dangling, exec1, exec2], pluginEntry)).toBe(exec1);
  });

  it('follows a symlink to an executable', () => {
    expect(pickPlugin([link, exec1], pluginEntry)).toBe(link);
  });

  it.each([
    ['a file that is not executable', notExec],
    ['a folder', folder],
  ])('%s first: none (docker would stop there too)', (_, first) => {
    expect(pickPlugin([missing, first, exec1], pluginEntry)).toBeUndefined();
  });

  it('nothing there: none', () => {
    expect(pickPlugin([missing, dangling], pluginEntry)).toBeUndefined();
  });
});

describe('directBuildx runs the plugin itself for docker buildx calls', () => {
  const recorder = (): { calls: [string, readonly string[], ExecOptions | undefined][]; exec: Exec } => {
    const calls: [string, readonly string[], ExecOptions | undefined][] = [];
    return {
      calls,
      exec: async (cmd, args, opts) => {
        calls.push([cmd, args, opts]);
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    };
  };

  it('docker buildx X becomes <plugin> X with the same options', async () => {
    const r = recorder();
    const opts = { silent: true, env: { A: '1' } };
    await directBuildx(r.exec, () => '/p/docker-buildx')('docker', ['buildx', 'build', '--push', '.'], opts);
    expect(r.calls).toEqual([['/p/docker-buildx', ['build', '--push', '.'], opts]]);
  });

  it('other commands, and docker calls that are not buildx, go unchanged', async () => {
    const r = recorder();
    const x = directBuildx(r.exec, () => '/p/docker-buildx');
    await x('trivy', ['image', 'x']);
    await x('docker', ['run', 'buildx']);
    expect(r.calls.map(([c, a]) => [c, a])).toEqual([
      ['trivy', ['image', 'x']],
      ['docker', ['run', 'buildx']],
    ]);
  });

  it('no plugin found: through the docker CLI, and the lookup is asked again on the next call', async () => {
    const r = recorder();
    const installed: string[] = [];
    const x = directBuildx(r.exec, () => installed[0]);
    await x('docker', ['buildx', 'version']);
    installed.push('/installed/docker-buildx');
    await x('docker', ['buildx', 'version']);
    expect(r.calls.map(([c, a]) => [c, a])).toEqual([
      ['docker', ['buildx', 'version']],
      ['/installed/docker-buildx', ['version']],
    ]);
  });
});
