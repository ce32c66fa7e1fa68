// buildx run without the docker CLI in front: the plugin the action picks is
// the one the real docker CLI runs, for every layout of plugin folders, and the
// bundled action builds through a plugin found only through the docker
// config's cliPluginsExtraDirs, running it by its own path.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pickPlugin, pluginCandidates } from '../src/buildx/command.js';
import { pluginEntry } from '../src/buildx/plugin.js';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { actionInputs, bed, getManifest, uniqueRepo } from './testbed.js';

/** A stand-in plugin that answers docker's metadata call and then says which one it is. */
function fakePlugin(dir: string, tag: string, mode = 0o755): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'docker-buildx');
  fs.writeFileSync(
    file,
    [
      '#!/bin/sh',
      'if [ "$1" = docker-cli-plugin-metadata ]; then',
      `  echo '{"SchemaVersion":"0.1.0","Vendor":"e2e","Version":"v0.0.1","ShortDescription":"${tag}"}'`,
      '  exit 0',
      'fi',
      `echo "plugin ${tag}"`,
      '',
    ].join('\n'),
  );
  fs.chmodSync(file, mode);
}

/** Which plugin the docker CLI runs for `docker buildx`, and which one ours picks, for one layout. */
function choices(layout: (root: string) => object | undefined): { docker: string; ours: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plugin-dirs-'));
  const configDir = path.join(root, 'config');
  fs.mkdirSync(configDir, { recursive: true });
  const config = layout(root);
  const json = config ? JSON.stringify(config) : undefined;
  if (json) fs.writeFileSync(path.join(configDir, 'config.json'), json);
  const r = spawnSync('docker', ['buildx'], { env: { ...process.env, DOCKER_CONFIG: configDir }, encoding: 'utf8' });
  const docker = /^plugin (\S+)$/m.exec(r.stdout)?.[1] ?? (r.status === 0 ? '(unreadable)' : '(none)');
  const picked = pickPlugin(pluginCandidates(configDir, json), pluginEntry);
  const ours = picked ? (/^plugin (\S+)$/m.exec(execFileSync(picked, [], { encoding: 'utf8' }))?.[1] ?? '(unreadable)') : '(none)';
  return { docker, ours };
}

describe('the buildx plugin picked is the one the docker CLI runs', () => {
  it('cliPluginsExtraDirs comes before <DOCKER_CONFIG>/cli-plugins', () => {
    const c = choices((root) => {
      fakePlugin(path.join(root, 'extra'), 'extra');
      fakePlugin(path.join(root, 'config', 'cli-plugins'), 'config');
      return { cliPluginsExtraDirs: [path.join(root, 'extra')] };
    });
    expect(c).toEqual({ docker: 'extra', ours: 'extra' });
  });

  it('the first extra folder that holds one wins', () => {
    const c = choices((root) => {
      fakePlugin(path.join(root, 'second'), 'second');
      fakePlugin(path.join(root, 'third'), 'third');
      return { cliPluginsExtraDirs: [path.join(root, 'empty'), path.join(root, 'second'), path.join(root, 'third')] };
    });
    expect(c).toEqual({ docker: 'second', ours: 'second' });
  });

  it('without extra folders, <DOCKER_CONFIG>/cli-plugins', () => {
    const c = choices((root) => {
      fakePlugin(path.join(root, 'config', 'cli-plugins'), 'config');
      return undefined;
    });
    expect(c).toEqual({ docker: 'config', ours: 'config' });
  });

  it('a dangling link is passed over', () => {
    const c = choices((root) => {
      fs.mkdirSync(path.join(root, 'extra'), { recursive: true });
      fs.symlinkSync('/nowhere', path.join(root, 'extra', 'docker-buildx'));
      fakePlugin(path.join(root, 'config', 'cli-plugins'), 'config');
      return { cliPluginsExtraDirs: [path.join(root, 'extra')] };
    });
    expect(c).toEqual({ docker: 'config', ours: 'config' });
  });

  it.each([
    ['a plugin file that is not executable', (dir: string) => fakePlugin(dir, 'not-executable', 0o644)],
    ['a folder of that name', (dir: string) => fs.mkdirSync(path.join(dir, 'docker-buildx'), { recursive: true })],
  ])('%s ends the search: docker fails, and ours leaves the call to docker', (_, put) => {
    const c = choices((root) => {
      put(path.join(root, 'extra'));
      fakePlugin(path.join(root, 'config', 'cli-plugins'), 'config');
      return { cliPluginsExtraDirs: [path.join(root, 'extra')] };
    });
    expect(c).toEqual({ docker: '(none)', ours: '(none)' });
  });
});

describe('the action runs buildx by its path when only cliPluginsExtraDirs leads to it', () => {
  const repo = uniqueRepo('plugin-extra');
  let run: ActionRun;
  let pluginDir: string;

  beforeAll(() => {
    // The test bed's real buildx, reachable only through the config's extra folder.
    const real = fs.realpathSync(path.join(os.homedir(), '.docker', 'cli-plugins', 'docker-buildx'));
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plugin-extra-'));
    pluginDir = path.join(root, 'plugins');
    fs.mkdirSync(pluginDir);
    fs.symlinkSync(real, path.join(pluginDir, 'docker-buildx'));
    const configDir = path.join(root, 'docker');
    fs.mkdirSync(configDir);
    fs.writeFileSync(path.join(configDir, 'config.json'), JSON.stringify({ cliPluginsExtraDirs: [pluginDir] }));
    run = runAction(actionInputs(repo, { platforms: 'linux/amd64', scan: 'false' }), { env: { DOCKER_CONFIG: configDir } });
  });

  it('pushes the list, every buildx call by the plugin path, none through docker', async () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect((await getManifest(bed.registry, repo, '1.0.0'))?.digest).toBe(run.outputs.digest);
    const commands = run.stdout.split('\n').filter((l) => l.startsWith('[command]'));
    expect(commands.filter((l) => l.startsWith(`[command]${pluginDir}/docker-buildx build `))).toHaveLength(1);
    expect(commands.filter((l) => l.startsWith('[command]docker buildx'))).toEqual([]);
  });

  it('main removes the builder the run made as it ends, by the plugin path too', () => {
    expect(run.post.ran).toBe(false);
    expect(run.stdout).toMatch(new RegExp(`^\\[command\\]${pluginDir}/docker-buildx rm multiarch-[0-9a-f]+$`, 'm'));
    expect(run.log).toMatch(/multiarch-[0-9a-f]+ removed/);
  });
});
