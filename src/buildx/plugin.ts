// The real lookup of the buildx plugin, for main and post: the user's docker
// config read once, the candidate paths checked on every call (the run may
// install buildx).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dockerConfigDir } from '../credentials.js';
import { pluginEntry } from '../util/files.js';
import { pickPlugin, pluginCandidates } from './command.js';

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
