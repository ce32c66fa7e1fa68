// Facts about files on disk that more than one module asks.
import * as fs from 'node:fs';

/** A regular file (after symlinks) this process may execute. */
function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** What is at a docker CLI plugin path: nothing (missing, a dangling link), a plugin the CLI can run, or one it cannot (a folder, a file not executable). */
export type PluginEntry = 'absent' | 'runnable' | 'broken';

/** A docker CLI plugin path as the CLI sees it: what does not stat (after links) is absent; anything else is a plugin, runnable or not. */
export function pluginEntry(file: string): PluginEntry {
  try {
    fs.statSync(file);
  } catch {
    return 'absent';
  }
  return isExecutableFile(file) ? 'runnable' : 'broken';
}
