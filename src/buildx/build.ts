// One platform's `docker buildx build`: argv building, the metadata file, and
// resolving the pushed object to the platform's image manifest.
import { platformCacheEntry } from './cache.js';
import { ProgressReader } from './progress.js';
import * as path from 'node:path';
import type { Exec } from '../exec.js';
import type { BuildStep, Inputs, Platform } from '../model.js';
import { platformSlug } from '../platform.js';
import { digestOf } from '../oci.js';
import {
  isAttestationDescriptor,
  isIndex,
  parseBuildMetadata,
  parseManifestOrIndex,
  SchemaError,
  type Descriptor,
  type ImageManifest,
  type ManifestOrIndex,
} from '../types/buildx.js';

export type BuildOutput = { kind: 'registry' } | { kind: 'oci'; dest: string };

export interface BuildArgsOptions {
  builder: string;
  metadataFile: string;
  output: BuildOutput;
  /** Secret id -> path of a temp file holding its value (written by the caller). */
  secretFiles: Record<string, string>;
}

/** A `secrets` input entry split into id and value (`id=value`). */
export interface SecretEntry {
  id: string;
  value: string;
}

/**
 * Splits `secrets` input lines (`id=value`) so the caller can write each value
 * to a temp file; only ids and file paths ever reach argv.
 */
export function parseSecrets(lines: readonly string[]): SecretEntry[] {
  const seen = new Set<string>();
  return lines.map((line) => {
    const eq = line.indexOf('=');
    const id = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!id) throw new Error('secrets: each entry must be id=value (an entry has no id)');
    if (seen.has(id)) throw new Error(`secrets: duplicate id "${id}"`);
    seen.add(id);
    return { id, value: line.slice(eq + 1) };
  });
}

/** The `--output` value for one platform. */
export function outputArg(image: string, output: BuildOutput): string {
  if (output.kind === 'oci') return `type=oci,dest=${output.dest},tar=false`;
  if (!image) throw new Error('a registry build needs an image name');
  return `type=image,name=${image},push-by-digest=true,name-canonical=true,push=true`;
}

/** The Dockerfile for a platform: its `platform-files` entry, else `file`. */
export function dockerfileFor(inputs: Pick<Inputs, 'file' | 'platformFiles'>, platform: Platform): string {
  return inputs.platformFiles[platform.id] ?? inputs.file;
}

/** Annotation types that belong to an index: the manifest list gets them, never a platform's build. */
const INDEX_TYPES = new Set(['index', 'index-descriptor']);

/**
 * The annotations for one platform's build: `index:` and `index-descriptor:`
 * ones are left out (BuildKit refuses them on a single-platform image; the
 * index phase puts them on the manifest list). A key with several types
 * (`index,manifest:k=v`) keeps its other types.
 */
export function buildAnnotations(annotations: readonly string[]): string[] {
  return annotations.flatMap((a) => {
    const eq = a.indexOf('=');
    const key = eq === -1 ? a : a.slice(0, eq);
    const colon = key.indexOf(':');
    if (colon === -1) return [a];
    const types = key.slice(0, colon).split(',');
    const kept = types.filter((t) => !INDEX_TYPES.has(t.replace(/\[.*\]$/, '')));
    if (kept.length === types.length) return [a];
    return kept.length === 0 ? [] : [`${kept.join(',')}${a.slice(colon)}`];
  });
}

function repeat(flag: string, values: readonly string[]): string[] {
  return values.flatMap((v) => [flag, v]);
}

/**
 * argv (after `docker`) for building one platform. Secret values never appear:
 * each `secrets` id must have a file in `opts.secretFiles`.
 */
export function buildArgs(inputs: Inputs, platform: Platform, opts: BuildArgsOptions): string[] {
  // Structured progress on stderr (--progress rawjson): step timings, and the readable log made from them.
  const args = ['buildx', 'build', '--builder', opts.builder, '--progress', 'rawjson', '--platform', platform.id];
  args.push('--file', dockerfileFor(inputs, platform));
  args.push('--metadata-file', opts.metadataFile);
  args.push('--output', outputArg(inputs.image, opts.output));
  if (inputs.provenance) args.push('--provenance', inputs.provenance);
  if (inputs.sbom) args.push('--sbom', inputs.sbom);
  if (inputs.target) args.push('--target', inputs.target);
  if (inputs.noCache) args.push('--no-cache');
  args.push(...repeat('--build-arg', inputs.buildArgs));
  args.push(...repeat('--label', inputs.labels));
  args.push(...repeat('--annotation', buildAnnotations(inputs.annotations)));
  const slug = platformSlug(platform);
  args.push(
    ...repeat(
      '--cache-from',
      inputs.cacheFrom.map((c) => platformCacheEntry(c, slug)),
    ),
  );
  args.push(
    ...repeat(
      '--cache-to',
      inputs.cacheTo.map((c) => platformCacheEntry(c, slug)),
    ),
  );
  for (const { id } of parseSecrets(inputs.secrets)) {
    const file = opts.secretFiles[id];
    if (!file) throw new Error(`secret "${id}" has no file to pass as src`);
    args.push('--secret', `id=${id},src=${file}`);
  }
  args.push(inputs.context);
  return args;
}

/** What a build's `--metadata-file` tells us about the object it produced. */
export interface BuildResultMetadata {
  /** Digest of the top object: an index when attestations are attached, else the image manifest. */
  digest: string;
  mediaType?: string;
  size?: number;
  imageName?: string;
  buildRef?: string;
}

export function parseMetadata(json: string | Buffer): BuildResultMetadata {
  const m = parseBuildMetadata(json);
  const desc = m['containerimage.descriptor'];
  const digest = m['containerimage.digest'] ?? desc?.digest;
  if (!digest) {
    throw new SchemaError('buildx metadata', '', 'has neither "containerimage.digest" nor "containerimage.descriptor"');
  }
  if (desc && desc.digest !== digest) {
    throw new SchemaError('buildx metadata', 'containerimage.descriptor.digest', `${desc.digest} differs from containerimage.digest ${digest}`);
  }
  const out: BuildResultMetadata = { digest };
  if (desc) {
    out.mediaType = desc.mediaType;
    out.size = desc.size;
  }
  if (m['image.name'] !== undefined) out.imageName = m['image.name'];
  if (m['buildx.build.ref'] !== undefined) out.buildRef = m['buildx.build.ref'];
  return out;
}

/** Implied variants: arm means arm/v7, arm64/v8 is arm64, amd64/v1 is amd64 (as containerd normalises). */
const DEFAULT_VARIANT: Record<string, string> = { arm: 'v7', arm64: 'v8', amd64: 'v1' };

/** Normalised `os/arch/variant` of an index entry, for matching. */
function platformKey(os: string, arch: string, variant: string | undefined): string {
  return `${os}/${arch}/${variant || DEFAULT_VARIANT[arch] || ''}`;
}

/**
 * The image-manifest descriptor of `platform` in a per-platform index (image
 * manifest + attestation manifest). Attestation manifests are skipped
 * (`unknown/unknown` platform or `vnd.docker.reference.type:
 * attestation-manifest`); exactly one image manifest for the platform must remain.
 */
export function imageManifestDescriptor(index: ManifestOrIndex, platform: Platform): Descriptor {
  if (!isIndex(index)) throw new Error('imageManifestDescriptor needs an index; a manifest is its own image manifest');
  const images = index.manifests.filter((d) => !isAttestationDescriptor(d));
  const want = platformKey(platform.os, platform.arch, platform.variant);
  const matching = images.filter((d) => d.platform === undefined || platformKey(d.platform.os, d.platform.architecture, d.platform.variant) === want);
  if (matching.length !== 1) {
    const seen = images
      .map((d) => (d.platform ? [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/') : d.digest))
      .join(', ');
    throw new Error(`expected one image manifest for ${platform.id} in the index, found ${matching.length} (image entries: ${seen || 'none'})`);
  }
  return matching[0] as Descriptor;
}

/**
 * The image-manifest digest for `platform`: `ownDigest` when the object is a
 * manifest, else the index entry picked by imageManifestDescriptor. Never an
 * attestation manifest's digest.
 */
export function imageManifestDigest(indexOrManifest: ManifestOrIndex, platform: Platform, ownDigest: string): string {
  return isIndex(indexOrManifest) ? imageManifestDescriptor(indexOrManifest, platform).digest : ownDigest;
}

/** config.size + the sum of layer sizes. */
export function manifestSize(manifest: ImageManifest): number {
  return manifest.layers.reduce((sum, l) => sum + l.size, manifest.config.size);
}

/** Path of a blob in an OCI layout directory. */
export function ociBlobPath(layoutDir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (!alg || !hex) throw new Error(`not a digest: ${digest}`);
  return path.join(layoutDir, 'blobs', alg, hex);
}

/** Fetches the raw bytes of a manifest or index by digest (registry or OCI layout). */
export type FetchRaw = (digest: string) => Promise<string | Buffer>;

export interface ResolvedImage {
  /** The image manifest's digest (goes to `platform-digests`). */
  digest: string;
  /** What the build pushed: the index digest when attestations are attached, else the same digest. */
  pushedDigest: string;
  mediaType: string;
  /** config + layers, bytes. */
  size: number;
  manifest: ImageManifest;
}

async function fetchChecked(fetchRaw: FetchRaw, digest: string): Promise<ManifestOrIndex> {
  const raw = await fetchRaw(digest);
  const actual = digestOf(raw);
  if (digest.startsWith('sha256:') && actual !== digest) {
    throw new Error(`fetched bytes for ${digest} hash to ${actual}`);
  }
  return parseManifestOrIndex(raw, `manifest ${digest}`);
}

/**
 * Follows the build's top digest to the platform's image manifest, checking
 * the digest of every fetched object.
 */
export async function resolveImageManifest(fetchRaw: FetchRaw, pushedDigest: string, platform: Platform): Promise<ResolvedImage> {
  const top = await fetchChecked(fetchRaw, pushedDigest);
  if (!isIndex(top)) {
    return { digest: pushedDigest, pushedDigest, mediaType: top.mediaType ?? '', size: manifestSize(top), manifest: top };
  }
  const desc = imageManifestDescriptor(top, platform);
  const manifest = await fetchChecked(fetchRaw, desc.digest);
  if (isIndex(manifest)) throw new Error(`${desc.digest} for ${platform.id} is an index, expected an image manifest`);
  return { digest: desc.digest, pushedDigest, mediaType: manifest.mediaType ?? desc.mediaType, size: manifestSize(manifest), manifest };
}

export interface BuildPlatformOptions {
  metadataFile: string;
  /** Each readable log line (made from the rawjson events; other lines as they are). */
  onLine?: (line: string) => void;
  readFile: (file: string) => Promise<string>;
  /** The run's clock (milliseconds). */
  now?: () => number;
}

/** Runs one platform's build (argv from buildArgs), reading its progress events, then its metadata file. */
export async function buildPlatform(
  exec: Exec,
  args: readonly string[],
  opts: BuildPlatformOptions,
): Promise<BuildResultMetadata & { seconds: number; steps: BuildStep[] }> {
  const now = opts.now ?? Date.now;
  const progress = new ProgressReader();
  const onLine = (line: string): void => {
    for (const l of progress.line(line)) opts.onLine?.(l);
  };
  const started = now();
  await exec('docker', args, { onLine });
  const seconds = (now() - started) / 1000;
  const text = await opts.readFile(opts.metadataFile);
  return { ...parseMetadata(text), seconds, steps: progress.steps() };
}
