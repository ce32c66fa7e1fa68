// Small file-system questions shared by the scan and install modules.
import * as fs from 'node:fs/promises';

/** True when `file` is there and is a regular file (a folder or nothing is false). */
export async function fileExists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Which file `file` is (after links): its real path, device and inode, size
 * and modification time; a file replaced, upgraded or touched is another one.
 * undefined when it cannot be read.
 */
export async function fileIdentity(file: string): Promise<string | undefined> {
  try {
    const real = await fs.realpath(file);
    const st = await fs.stat(real, { bigint: true });
    return `${real} ${st.dev}:${st.ino} ${st.size} ${st.mtimeNs}`;
  } catch {
    return undefined;
  }
}
