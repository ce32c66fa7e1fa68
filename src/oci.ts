// Content facts of OCI objects, shared by buildx, the registry client and the
// layout server: a digest is the SHA-256 of the exact bytes, and a manifest
// without a mediaType field is told by its shape.
import { createHash } from 'node:crypto';

/** `sha256:` + the SHA-256 of the exact bytes given. */
export function digestOf(raw: string | Buffer): string {
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** The media type of a manifest or index: its own field, else index or manifest by shape. */
export function manifestMediaType(raw: string | Buffer): string {
  try {
    const v = JSON.parse(raw.toString()) as { mediaType?: unknown; manifests?: unknown };
    if (typeof v.mediaType === 'string') return v.mediaType;
    return Array.isArray(v.manifests) ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json';
  } catch {
    return 'application/octet-stream';
  }
}
