// What a tool binary said its version was, kept on disk by the binary's
// identity (fileIdentity: real path, inode, size, modification time): `trivy
// --version` costs ~90 ms of CPU, and every run asked it again while its
// builds wanted the same two cores. A binary replaced or touched has another
// identity and is asked again. A memo that cannot be read or written is no
// memo: the binary is asked, as before.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileIdentity } from './files.js';

export interface VersionMemo {
  /** The version recorded for this very file, if any. */
  get(binary: string): Promise<string | undefined>;
  record(binary: string, version: string): Promise<void>;
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
