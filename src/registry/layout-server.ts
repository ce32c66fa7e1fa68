// A read-only registry on 127.0.0.1 that serves local OCI layout directories,
// for PR mode: buildx composes the manifest list from these exactly as it
// would from pushed images (same bytes, so the same digest a push would give),
// while nothing is written to any real registry. Lives for one call.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { manifestMediaType } from '../oci.js';

export interface LayoutServer {
  /** `127.0.0.1:<port>`, usable as a registry host in references. */
  registry: string;
  close(): Promise<void>;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Finds a blob in any of the layouts. */
export function findBlob(layouts: readonly string[], digest: string): string | undefined {
  if (!DIGEST.test(digest)) return undefined;
  const hex = digest.slice('sha256:'.length);
  for (const dir of layouts) {
    const file = path.join(dir, 'blobs', 'sha256', hex);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

/** `/v2/<name>/(manifests|blobs)/<digest>` -> kind and digest; anything else -> undefined. */
export function parseRoute(url: string): { kind: 'manifests' | 'blobs'; digest: string } | { kind: 'base' } | undefined {
  const p = (url.split('?')[0] ?? '').replace(/\/+$/, '/');
  if (p === '/v2/' || p === '/v2') return { kind: 'base' };
  const m = /^\/v2\/.+\/(manifests|blobs)\/([^/]+)$/.exec(p);
  if (!m) return undefined;
  return { kind: m[1] as 'manifests' | 'blobs', digest: decodeURIComponent(m[2] ?? '') };
}

export async function serveLayouts(layouts: readonly string[]): Promise<LayoutServer> {
  const server = http.createServer((req, res) => {
    const route = parseRoute(req.url ?? '');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    if (route.kind === 'base') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(req.method === 'HEAD' ? undefined : '{}');
      return;
    }
    const file = findBlob(layouts, route.digest);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
      return;
    }
    const size = fs.statSync(file).size;
    res.writeHead(200, {
      'Content-Type': route.kind === 'manifests' ? manifestMediaType(fs.readFileSync(file)) : 'application/octet-stream',
      'Content-Length': String(size),
      'Docker-Content-Digest': route.digest,
    });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    registry: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
