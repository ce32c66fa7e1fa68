// `docker buildx imagetools`: creating the manifest list from per-platform
// digests and reading raw manifests.
import { digestOf } from '../oci.js';
import type { Exec } from '../exec.js';
import { parseManifestOrIndex, type ManifestOrIndex } from '../types/buildx.js';

export interface CreateIndexOptions {
  /** Print the index instead of pushing it (tags may then be empty). */
  dryRun?: boolean;
  /** `--annotation` values, e.g. `index:org.opencontainers.image.description=...`. */
  annotations?: string[];
}

/**
 * argv (after `docker`) for `buildx imagetools create`. `sources` are
 * references by digest (`repo@sha256:...`); the result is pushed to every tag.
 */
export function createIndexArgs(builder: string, tags: readonly string[], sources: readonly string[], opts: CreateIndexOptions = {}): string[] {
  if (sources.length === 0) throw new Error('imagetools create needs at least one source');
  if (!opts.dryRun && tags.length === 0) throw new Error('imagetools create needs a tag unless it is a dry run');
  const args = ['buildx', 'imagetools', 'create', '--builder', builder];
  if (opts.dryRun) args.push('--dry-run');
  for (const a of opts.annotations ?? []) args.push('--annotation', a);
  for (const t of tags) args.push('-t', t);
  args.push(...sources);
  return args;
}

/** argv (after `docker`) printing the exact stored bytes of `ref`'s manifest or index. */
export function inspectRawArgs(builder: string, ref: string): string[] {
  return ['buildx', 'imagetools', 'inspect', '--builder', builder, '--raw', ref];
}

/**
 * The bytes a dry run would push: `imagetools create --dry-run` prints the
 * index followed by one newline, which is not part of the pushed object.
 */
export function dryRunBytes(stdout: string): string {
  return stdout.endsWith('\n') ? stdout.slice(0, -1) : stdout;
}

export interface RawManifest {
  raw: string;
  digest: string;
  parsed: ManifestOrIndex;
}

/** Reads a manifest or index as stored (`inspect --raw` prints no trailing newline). */
export async function inspectRaw(exec: Exec, builder: string, ref: string): Promise<RawManifest> {
  const { stdout } = await exec('docker', inspectRawArgs(builder, ref), { silent: true });
  return { raw: stdout, digest: digestOf(stdout), parsed: parseManifestOrIndex(stdout, `manifest of ${ref}`) };
}

/**
 * Composes an index from `sources` as buildx would push it, pushing nothing:
 * `imagetools create --dry-run` prints its exact bytes, and so its digest.
 */
export async function composeIndex(
  exec: Exec,
  builder: string,
  sources: readonly string[],
  annotations: readonly string[] = [],
): Promise<RawManifest> {
  const dry = await exec('docker', createIndexArgs(builder, [], sources, { dryRun: true, annotations: [...annotations] }), { silent: true });
  const raw = dryRunBytes(dry.stdout);
  return { raw, digest: digestOf(raw), parsed: parseManifestOrIndex(raw, 'imagetools create --dry-run output') };
}
