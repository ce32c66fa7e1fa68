// Small file-system questions shared by the scan modules.
import * as fs from 'node:fs/promises';

/** True when `file` is there and is a regular file (a folder or nothing is false). */
export async function fileExists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
