// Types for the JSON that buildx writes or prints, with guards that check the
// shape at the boundary instead of casting `JSON.parse` results.
//
// Upstream structs mirrored here:
// - OCI descriptor / platform:
//   https://github.com/opencontainers/image-spec/blob/v1.1.1/specs-go/v1/descriptor.go
// - OCI image index:
//   https://github.com/opencontainers/image-spec/blob/v1.1.1/specs-go/v1/index.go
// - OCI image manifest:
//   https://github.com/opencontainers/image-spec/blob/v1.1.1/specs-go/v1/manifest.go
// - Docker manifest list / schema2 manifest (same JSON shape, other media types):
//   https://github.com/distribution/distribution/blob/v3.0.0/manifest/manifestlist/manifestlist.go
//   https://github.com/distribution/distribution/blob/v3.0.0/manifest/schema2/manifest.go
// - buildx `--metadata-file`: the exporter response, base64-JSON values decoded by
//   `decodeExporterResponse` in https://github.com/docker/buildx/blob/v0.36.1/commands/build.go
//   keys from https://github.com/moby/buildkit/blob/v0.32.2/exporter/containerimage/exptypes/keys.go
//   and `buildx.build.ref` from https://github.com/docker/buildx/blob/v0.36.1/build/build.go

export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerManifestList];
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest];

/** Annotations buildkit puts on an attestation manifest's descriptor in an index: its type, and the image it attests. */
export const REFERENCE_TYPE_ANNOTATION = 'vnd.docker.reference.type';
export const REFERENCE_DIGEST_ANNOTATION = 'vnd.docker.reference.digest';
export const ATTESTATION_MANIFEST = 'attestation-manifest';
/** The `artifactType` of an attestation manifest, as buildx asks the referrers for it. */
export const ATTESTATION_ARTIFACT_TYPE = 'application/vnd.docker.attestation.manifest.v1+json';

/** ocispec.Platform */
export interface OciPlatform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

/** ocispec.Descriptor */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: OciPlatform;
  artifactType?: string;
}

/** ocispec.Index / manifestlist.ManifestList */
export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** ocispec.Manifest / schema2.Manifest */
export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ManifestOrIndex = ImageIndex | ImageManifest;

/**
 * The parts of a buildx `--metadata-file` we read. Other keys (e.g.
 * `containerimage.config.digest`, `buildx.build.provenance`,
 * `buildx.build.warnings`) are kept in `extra` untyped.
 */
export interface BuildMetadata {
  'containerimage.digest'?: string;
  'containerimage.descriptor'?: Descriptor;
  'containerimage.config.digest'?: string;
  'image.name'?: string;
  'buildx.build.ref'?: string;
}

/** Thrown when external JSON does not have the shape we rely on. */
export class SchemaError extends Error {
  constructor(
    readonly what: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${what}: ${path ? `${path}: ` : ''}${problem}`);
    this.name = 'SchemaError';
  }
}

const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

/** True for `algorithm:encoded` (OCI digest grammar); sha256 must be 64 lowercase hex. */
export function isDigest(value: unknown): value is string {
  if (typeof value !== 'string' || !DIGEST_RE.test(value)) return false;
  return value.startsWith('sha256:') ? SHA256_RE.test(value) : true;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}...` : value}"`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  constructor(readonly what: string) {}

  fail(path: string, problem: string): never {
    throw new SchemaError(this.what, path, problem);
  }

  record(v: unknown, path: string): Record<string, unknown> {
    if (!isRecord(v)) this.fail(path, `expected an object, got ${describe(v)}`);
    return v;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `expected a string, got ${describe(v)}`);
    return v;
  }

  optString(v: unknown, path: string): string | undefined {
    return v === undefined ? undefined : this.string(v, path);
  }

  digest(v: unknown, path: string): string {
    if (!isDigest(v)) this.fail(path, `expected a digest like sha256:<64 hex>, got ${describe(v)}`);
    return v;
  }

  size(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      this.fail(path, `expected a non-negative integer size, got ${describe(v)}`);
    }
    return v;
  }

  stringMap(v: unknown, path: string): Record<string, string> | undefined {
    if (v === undefined) return undefined;
    const r = this.record(v, path);
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(r)) out[k] = this.string(val, `${path}.${k}`);
    return out;
  }

  platform(v: unknown, path: string): OciPlatform {
    const r = this.record(v, path);
    const p: OciPlatform = {
      architecture: this.string(r.architecture, `${path}.architecture`),
      os: this.string(r.os, `${path}.os`),
    };
    const variant = this.optString(r.variant, `${path}.variant`);
    if (variant !== undefined) p.variant = variant;
    const osVersion = this.optString(r['os.version'], `${path}["os.version"]`);
    if (osVersion !== undefined) p['os.version'] = osVersion;
    if (r['os.features'] !== undefined) {
      if (!Array.isArray(r['os.features'])) this.fail(`${path}["os.features"]`, 'expected an array');
      p['os.features'] = r['os.features'].map((f, i) => this.string(f, `${path}["os.features"][${i}]`));
    }
    return p;
  }

  descriptor(v: unknown, path: string): Descriptor {
    const r = this.record(v, path);
    const d: Descriptor = {
      mediaType: this.string(r.mediaType, `${path}.mediaType`),
      digest: this.digest(r.digest, `${path}.digest`),
      size: this.size(r.size, `${path}.size`),
    };
    const annotations = this.stringMap(r.annotations, `${path}.annotations`);
    if (annotations) d.annotations = annotations;
    if (r.platform !== undefined) d.platform = this.platform(r.platform, `${path}.platform`);
    const artifactType = this.optString(r.artifactType, `${path}.artifactType`);
    if (artifactType !== undefined) d.artifactType = artifactType;
    if (r.urls !== undefined) {
      if (!Array.isArray(r.urls)) this.fail(`${path}.urls`, 'expected an array');
      d.urls = r.urls.map((u, i) => this.string(u, `${path}.urls[${i}]`));
    }
    const data = this.optString(r.data, `${path}.data`);
    if (data !== undefined) d.data = data;
    return d;
  }

  descriptors(v: unknown, path: string): Descriptor[] {
    if (!Array.isArray(v)) this.fail(path, `expected an array, got ${describe(v)}`);
    return v.map((d, i) => this.descriptor(d, `${path}[${i}]`));
  }
}

function parseJsonText(text: string | Buffer, what: string): unknown {
  const s = typeof text === 'string' ? text : text.toString('utf8');
  try {
    return JSON.parse(s) as unknown;
  } catch (err) {
    throw new SchemaError(what, '', `not valid JSON (${(err as Error).message})`);
  }
}

/** Checks a parsed buildx `--metadata-file` object. */
export function assertBuildMetadata(value: unknown): BuildMetadata {
  const c = new Checker('buildx metadata');
  const r = c.record(value, '');
  const out: BuildMetadata = {};
  if (r['containerimage.digest'] !== undefined) {
    out['containerimage.digest'] = c.digest(r['containerimage.digest'], 'containerimage.digest');
  }
  if (r['containerimage.descriptor'] !== undefined) {
    out['containerimage.descriptor'] = c.descriptor(r['containerimage.descriptor'], 'containerimage.descriptor');
  }
  if (r['containerimage.config.digest'] !== undefined) {
    out['containerimage.config.digest'] = c.digest(r['containerimage.config.digest'], 'containerimage.config.digest');
  }
  const name = c.optString(r['image.name'], 'image.name');
  if (name !== undefined) out['image.name'] = name;
  const ref = c.optString(r['buildx.build.ref'], 'buildx.build.ref');
  if (ref !== undefined) out['buildx.build.ref'] = ref;
  return out;
}

/** Parses buildx `--metadata-file` text. */
export function parseBuildMetadata(text: string | Buffer): BuildMetadata {
  return assertBuildMetadata(parseJsonText(text, 'buildx metadata'));
}

export function isIndex(m: ManifestOrIndex): m is ImageIndex {
  return 'manifests' in m;
}

export function isManifest(m: ManifestOrIndex): m is ImageManifest {
  return 'config' in m;
}

/**
 * Checks a parsed image manifest or index (OCI or Docker). An object with a
 * `manifests` array is an index, one with `config` is a manifest; a
 * `mediaType`, when present, must agree.
 */
export function assertManifestOrIndex(value: unknown, what = 'image manifest'): ManifestOrIndex {
  const c = new Checker(what);
  const r = c.record(value, '');
  if (r.schemaVersion !== 2) c.fail('schemaVersion', `expected 2, got ${describe(r.schemaVersion)}`);
  const mediaType = c.optString(r.mediaType, 'mediaType');
  const hasManifests = r.manifests !== undefined;
  const hasConfig = r.config !== undefined;
  if (hasManifests === hasConfig) {
    c.fail('', hasManifests ? 'has both "manifests" and "config"' : 'has neither "manifests" (index) nor "config" (manifest)');
  }
  const common: { annotations?: Record<string, string>; subject?: Descriptor; artifactType?: string } = {};
  const annotations = c.stringMap(r.annotations, 'annotations');
  if (annotations) common.annotations = annotations;
  if (r.subject !== undefined) common.subject = c.descriptor(r.subject, 'subject');
  const artifactType = c.optString(r.artifactType, 'artifactType');
  if (artifactType !== undefined) common.artifactType = artifactType;

  if (hasManifests) {
    if (mediaType !== undefined && !INDEX_MEDIA_TYPES.includes(mediaType)) {
      c.fail('mediaType', `an index must have an index media type, got "${mediaType}"`);
    }
    const index: ImageIndex = { schemaVersion: 2, manifests: c.descriptors(r.manifests, 'manifests'), ...common };
    if (mediaType !== undefined) index.mediaType = mediaType;
    return index;
  }
  if (mediaType !== undefined && !MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    c.fail('mediaType', `a manifest must have an image manifest media type, got "${mediaType}"`);
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    config: c.descriptor(r.config, 'config'),
    layers: c.descriptors(r.layers, 'layers'),
    ...common,
  };
  if (mediaType !== undefined) manifest.mediaType = mediaType;
  return manifest;
}

/** Parses raw manifest or index bytes (as `imagetools inspect --raw` prints them). */
export function parseManifestOrIndex(raw: string | Buffer, what = 'image manifest'): ManifestOrIndex {
  return assertManifestOrIndex(parseJsonText(raw, what), what);
}

/** True when a descriptor in an index points at a buildkit attestation manifest. */
export function isAttestationDescriptor(d: Descriptor): boolean {
  if (d.annotations?.[REFERENCE_TYPE_ANNOTATION] === ATTESTATION_MANIFEST) return true;
  return d.platform?.os === 'unknown' && d.platform.architecture === 'unknown';
}
