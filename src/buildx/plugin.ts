// The real lookup of the buildx plugin, for main and post: the user's docker
// config read once, the candidate paths checked on every call (the run may
// install buildx).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dockerConfigDir } from '../credentials.js';
import { pickPlugin, pluginCandidates, type PluginEntry } from './command.js';

/**
 * A docker CLI plugin path as the CLI sees it: what does not stat (after
 * links) is absent; a regular file this process may execute is runnable;
 * anything else (a folder, a file without the execute bit) is broken.
 */
export function pluginEntry(file: string): PluginEntry {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return 'absent';
  }
  if (!st.isFile()) return 'broken';
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return 'runnable';
  } catch {
    return 'broken';
  }
}

export function buildxPluginFinder(env: Readonly<Record<string, string | undefined>>): () => string | undefined {
  const dir = dockerConfigDir(env);
  let configJson: string | undefined;
  try {
    configJson = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
  } catch {
    configJson = undefined;
  }
  const candidates = pluginCandidates(dir, configJson);
  return () => pickPlugin(candidates, pluginEntry);
}
