// What a tool binary said its version was, kept on disk by the binary's
// identity (real path, device, inode, size, modification time): `trivy
// --version` costs ~90 ms of CPU, and every run asked it again while its
// builds wanted the same two cores. A binary replaced or touched has another
// identity and is asked again. A memo that cannot be read or written is no
// memo: the binary is asked, as before.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface VersionMemo {
  /** The version recorded for this very file, if any. */
  get(binary: string): Promise<string | undefined>;
  record(binary: string, version: string): Promise<void>;
}

/** The identity of the file `binary` is (after links), or undefined when it cannot be read. */
export async function fileIdentity(binary: string): Promise<string | undefined> {
  try {
    const real = await fs.realpath(binary);
    const st = await fs.stat(real, { bigint: true });
    return `${real} ${st.dev}:${st.ino} ${st.size} ${st.mtimeNs}`;
  } catch {
    return undefined;
  }
}

function parse(text: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** A memo in one JSON file (`{identity: version}`), written whole through a temp file and a rename. */
export function fileVersionMemo(file: string): VersionMemo {
  const read = async (): Promise<Record<string, string>> => parse(await fs.readFile(file, 'utf8').catch(() => ''));
  return {
    async get(binary) {
      const id = await fileIdentity(binary);
      return id ? (await read())[id] : undefined;
    },
    async record(binary, version) {
      const id = await fileIdentity(binary);
      if (!id) return;
      try {
        await fs.mkdir(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await fs.writeFile(tmp, JSON.stringify({ ...(await read()), [id]: version }));
        await fs.rename(tmp, file);
      } catch {
        // Not kept: asked again next time.
      }
    },
  };
}
