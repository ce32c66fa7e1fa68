// Where the docker CLI finds its buildx plugin, and an exec that runs that
// plugin directly. `docker buildx X` is three processes: the docker CLI, its
// call of the plugin's metadata command, then the plugin; buildx run by its
// own path is one, and behaves the same (it reads the same DOCKER_CONFIG,
// BUILDX_CONFIG and docker context).
import * as path from 'node:path';
import type { Exec } from '../exec.js';

/** What is at a docker CLI plugin path: nothing (missing, a dangling link), a plugin the CLI can run, or one it cannot (a folder, a file not executable). */
export type PluginEntry = 'absent' | 'runnable' | 'broken';

/** The docker CLI's system plugin folders on Linux, in its order (cli/cli-plugins/manager, defaultSystemPluginDirs). */
export const SYSTEM_PLUGIN_DIRS = [
  '/usr/local/lib/docker/cli-plugins',
  '/usr/local/libexec/docker/cli-plugins',
  '/usr/lib/docker/cli-plugins',
  '/usr/libexec/docker/cli-plugins',
];

const PLUGIN = 'docker-buildx';

/** A docker config's `cliPluginsExtraDirs` (strings only; an unreadable config has none). */
export function extraPluginDirs(configJson: string | undefined): string[] {
  if (!configJson) return [];
  try {
    const dirs = (JSON.parse(configJson) as { cliPluginsExtraDirs?: unknown }).cliPluginsExtraDirs;
    return Array.isArray(dirs) ? dirs.filter((d): d is string => typeof d === 'string' && d !== '') : [];
  } catch {
    return [];
  }
}

/**
 * The paths the docker CLI tries for `docker-buildx`, first match wins: the
 * config's `cliPluginsExtraDirs`, `<DOCKER_CONFIG>/cli-plugins`, then the
 * system folders.
 */
export function pluginCandidates(dockerConfigDir: string, configJson: string | undefined): string[] {
  const dirs = [...extraPluginDirs(configJson), path.join(dockerConfigDir, 'cli-plugins'), ...SYSTEM_PLUGIN_DIRS];
  return dirs.map((d) => path.join(d, PLUGIN));
}

/**
 * The plugin the docker CLI runs: the first candidate that is there at all
 * (checked against the real CLI in e2e/buildx-plugin.e2e.test.ts). When that
 * one cannot be run (a file not executable, a folder) the docker CLI
 * stops there with "unknown command" rather than look further, so there is no
 * plugin to run directly: undefined, and the call goes through docker, which
 * fails as it would have.
 */
export function pickPlugin(candidates: readonly string[], entry: (file: string) => PluginEntry): string | undefined {
  for (const c of candidates) {
    const e = entry(c);
    if (e !== 'absent') return e === 'runnable' ? c : undefined;
  }
  return undefined;
}

/**
 * An exec that runs `docker buildx ...` as `<plugin> ...` when `plugin()`
 * names one, and through the docker CLI otherwise; every other command is
 * passed on unchanged. `plugin` is asked on every call: buildx may be
 * installed during the run (buildx-version).
 */
export function directBuildx(exec: Exec, plugin: () => string | undefined): Exec {
  return (cmd, args, opts) => {
    if (cmd !== 'docker' || args[0] !== 'buildx') return exec(cmd, args, opts);
    const binary = plugin();
    return binary ? exec(binary, args.slice(1), opts) : exec(cmd, args, opts);
  };
}
