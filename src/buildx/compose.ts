// The manifest list as buildx v0.36 `imagetools create` composes it
// (util/imagetools/create.go: Resolver.combine, then filterPlatforms), made
// in process from bytes already read, so the run needs no buildx process and
// no second read of every manifest for it. The same sources give the same
// bytes, so the same digest: Go's field order, sorted map keys, Go's
// HTML-safe string escapes, containerd's platform normalization, an OCI index
// unless every entry is a Docker type, `index:` annotations on OCI indexes
// only, one image manifest made a list of one (buildx's default
// --prefer-index), one index with no annotations kept byte for byte.
// Whatever this does not reproduce is `{ unsupported }`, and the caller leaves
// that list to buildx.
import { digestOf } from '../oci.js';
import {
  ATTESTATION_MANIFEST,
  INDEX_MEDIA_TYPES as INDEXES,
  MANIFEST_MEDIA_TYPES as MANIFESTS,
  MEDIA_TYPE,
  REFERENCE_DIGEST_ANNOTATION,
  REFERENCE_TYPE_ANNOTATION,
  type Descriptor,
  type OciPlatform as Platform,
} from '../types/buildx.js';

/** One source as buildx resolves it (`repo@sha256:...`). */
export interface ListSource {
  /** The media type the registry serves it with (Content-Type). */
  mediaType: string;
  digest: string;
  /** The stored bytes. */
  raw: Buffer;
  /** An image manifest's config (buildx reads the platform from it). */
  config?: Buffer;
}

export type ComposedList =
  | {
      raw: Buffer;
      digest: string;
      mediaType: string;
      /**
       * The entries buildx asks the registry's referrers for (image manifests
       * with no attestation of their own in the list): an attestation
       * referrer found there would be added, which this does not do.
       */
      referrerChecks: string[];
    }
  | { unsupported: string };

/** A reason this composition is not buildx's. */
class Unsupported extends Error {}

/** containerd/platforms normalizeArch. */
export function normalizeArch(arch: string, variant: string): [string, string] {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', v === 'v1' ? '' : v];
    case 'aarch64':
    case 'arm64':
      if (['8', 'v8', 'v8.0'].includes(v)) return ['arm64', ''];
      return ['arm64', ['9', '9.0', 'v9.0'].includes(v) ? 'v9' : v];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (v === '' || v === '7') return ['arm', 'v7'];
      if (['5', '6', '8'].includes(v)) return ['arm', `v${v}`];
      return ['arm', v];
    default:
      return [a, v];
  }
}

/** containerd/platforms normalizeOS; an empty OS is the one buildx runs on (linux, where this action runs). */
export function normalizeOS(os: string): string {
  if (os === '') return 'linux';
  const o = os.toLowerCase();
  return o === 'macos' ? 'darwin' : o;
}

/** The platform buildx puts on an image manifest's entry, from its config (Resolver.loadPlatform). */
export function configPlatform(config: unknown): Platform {
  const c = object(config, 'image config');
  checkKeys(c, PLATFORM_FIELDS, 'image config');
  const arch = optionalString(c, 'architecture');
  const os = optionalString(c, 'os');
  const variant = optionalString(c, 'variant');
  const [architecture, v] = normalizeArch(arch ?? '', variant ?? '');
  return v ? { architecture, os: normalizeOS(os ?? ''), variant: v } : { architecture, os: normalizeOS(os ?? '') };
}

/**
 * The list buildx would compose from `sources` with these `index:`
 * annotations, or why it cannot be told here.
 */
export function composeList(sources: readonly ListSource[], annotations: readonly string[]): ComposedList {
  try {
    return compose(sources, annotations);
  } catch (err) {
    if (err instanceof Unsupported) return { unsupported: err.message };
    throw err;
  }
}

function compose(sources: readonly ListSource[], annotations: readonly string[]): ComposedList {
  if (sources.length === 0) throw new Unsupported('no sources');
  const indexAnnotations = parseIndexAnnotations(annotations);
  const parsed = sources.map(readSource);
  if (sources.length === 1 && annotations.length === 0 && INDEXES.includes(sources[0]?.mediaType ?? '')) {
    const only = sources[0] as ListSource;
    return { raw: only.raw, digest: only.digest, mediaType: only.mediaType, referrerChecks: referrerChecks(parsed[0] ?? []) };
  }
  const entries = mergeEntries(parsed.flat());
  const mediaType = entries.every((d) => d.mediaType.startsWith('application/vnd.docker.')) ? MEDIA_TYPE.dockerManifestList : MEDIA_TYPE.ociIndex;
  const list: Record<string, unknown> = { schemaVersion: 2, mediaType, manifests: entries };
  if (mediaType === MEDIA_TYPE.ociIndex && Object.keys(indexAnnotations).length > 0) list.annotations = sortedMap(indexAnnotations);
  const raw = Buffer.from(goMarshalIndent(list), 'utf8');
  return { raw, digest: digestOf(raw), mediaType, referrerChecks: referrerChecks(entries) };
}

/** `index:key=value` annotations as buildx parses them (buildflags.ParseAnnotations); the last of a key wins. */
function parseIndexAnnotations(annotations: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of annotations) {
    const eq = a.indexOf('=');
    if (eq < 0) throw new Unsupported(`annotation without a value: ${a}`);
    const k = a.slice(0, eq);
    if (!k.startsWith('index:') || k.length === 'index:'.length) throw new Unsupported(`annotation of another type: ${k}`);
    out[k.slice('index:'.length)] = a.slice(eq + 1);
  }
  return out;
}

/** The entries one source adds: an index's own entries, or the image manifest itself with its platform. */
function readSource(s: ListSource): Descriptor[] {
  if (digestOf(s.raw) !== s.digest) throw new Unsupported(`${s.digest}: the bytes read have another digest`);
  const doc = object(parseJson(s.raw, s.digest), s.digest);
  if (INDEXES.includes(s.mediaType)) {
    const manifests = doc.manifests;
    if (!Array.isArray(manifests)) throw new Unsupported(`${s.digest}: an index without a manifests list`);
    return manifests.map((m, i) => descriptor(m, `${s.digest} manifests[${i}]`));
  }
  if (!MANIFESTS.includes(s.mediaType)) throw new Unsupported(`${s.digest}: media type ${s.mediaType}`);
  const config = object(doc.config, `${s.digest} config`);
  if (!s.config || digestOf(s.config) !== config.digest) throw new Unsupported(`${s.digest}: its config was not read`);
  return [{ mediaType: s.mediaType, digest: s.digest, size: s.raw.length, platform: configPlatform(parseJson(s.config, 'config')) }];
}

/** buildx's addDesc: a digest seen again is merged into its first place (media type kept, platform replaced, annotations merged). */
function mergeEntries(all: readonly Descriptor[]): Descriptor[] {
  const out: Descriptor[] = [];
  const at = new Map<string, number>();
  for (const d of all) {
    const i = at.get(d.digest);
    if (i === undefined) {
      at.set(d.digest, out.length);
      out.push(d);
      continue;
    }
    const old = out[i] as Descriptor;
    const annotations = sortedMap({ ...old.annotations, ...d.annotations });
    const merged: Descriptor = { ...old, mediaType: old.mediaType || d.mediaType, ...(d.platform ? { platform: d.platform } : {}) };
    if (Object.keys(annotations).length > 0) merged.annotations = annotations;
    else delete merged.annotations;
    out[i] = reorder(merged);
  }
  return out;
}

/** filterPlatforms' referrer lookups: entries that are not attestations and have none in the list. */
export function referrerChecks(entries: readonly Descriptor[]): string[] {
  const digests = new Set(entries.map((d) => d.digest));
  const attestations = new Set<string>();
  const subjects = new Set<string>();
  for (const d of entries) {
    if (d.annotations?.[REFERENCE_TYPE_ANNOTATION] !== ATTESTATION_MANIFEST) continue;
    const subject = d.annotations[REFERENCE_DIGEST_ANNOTATION];
    if (subject === undefined || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(subject) || !digests.has(subject)) continue;
    attestations.add(d.digest);
    subjects.add(subject);
  }
  return [...new Set(entries.map((d) => d.digest).filter((d) => !attestations.has(d) && !subjects.has(d)))];
}

// --- reading JSON as Go's encoding/json would ---------------------------------------

function parseJson(raw: Buffer, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new Unsupported(`${what}: not UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Unsupported(`${what}: not JSON`);
  }
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Unsupported(`${what}: not an object`);
  return v as Record<string, unknown>;
}

/** Go matches field names case-insensitively: a key that differs from ours only in case is not read here. */
function checkKeys(o: Record<string, unknown>, known: readonly string[], what: string): void {
  const lower = new Map(known.map((k) => [k.toLowerCase(), k]));
  for (const k of Object.keys(o)) {
    const match = lower.get(k.toLowerCase());
    if (match !== undefined && match !== k) throw new Unsupported(`${what}: field ${k}`);
  }
}

function optionalString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Unsupported(`${key} is not a string`);
  return v;
}

function stringMap(v: unknown, what: string): Record<string, string> {
  const o = object(v, what);
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') throw new Unsupported(`${what}.${k} is not a string`);
  return o as Record<string, string>;
}

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Unsupported(`${what}: not a list of strings`);
  return v as string[];
}

const DESCRIPTOR_FIELDS = ['mediaType', 'digest', 'size', 'urls', 'annotations', 'data', 'platform', 'artifactType'];
const PLATFORM_FIELDS = ['architecture', 'os', 'os.version', 'os.features', 'variant'];

/** An index entry as ocispecs.Descriptor reads it: the known fields, in Go's order, empty ones left out as omitempty does. */
function descriptor(v: unknown, what: string): Descriptor {
  const o = object(v, what);
  checkKeys(o, DESCRIPTOR_FIELDS, what);
  for (const k of DESCRIPTOR_FIELDS) if (o[k] === null) throw new Unsupported(`${what}.${k} is null`);
  const size = o.size ?? 0;
  if (typeof size !== 'number' || !Number.isSafeInteger(size)) throw new Unsupported(`${what}.size is not an integer`);
  const d: Descriptor = { mediaType: optionalString(o, 'mediaType') ?? '', digest: optionalString(o, 'digest') ?? '', size };
  if (o.urls !== undefined) {
    const urls = stringList(o.urls, `${what}.urls`);
    if (urls.length > 0) d.urls = urls;
  }
  if (o.annotations !== undefined) {
    const a = stringMap(o.annotations, `${what}.annotations`);
    if (Object.keys(a).length > 0) d.annotations = sortedMap(a);
  }
  if (o.data !== undefined) {
    const data = optionalString(o, 'data') ?? '';
    if (Buffer.from(data, 'base64').toString('base64') !== data) throw new Unsupported(`${what}.data is not canonical base64`);
    if (data !== '') d.data = data;
  }
  if (o.platform !== undefined) d.platform = platform(o.platform, `${what}.platform`);
  const artifactType = optionalString(o, 'artifactType');
  if (artifactType) d.artifactType = artifactType;
  return d;
}

function platform(v: unknown, what: string): Platform {
  const o = object(v, what);
  checkKeys(o, PLATFORM_FIELDS, what);
  for (const k of PLATFORM_FIELDS) if (o[k] === null) throw new Unsupported(`${what}.${k} is null`);
  const p: Platform = { architecture: optionalString(o, 'architecture') ?? '', os: optionalString(o, 'os') ?? '' };
  const osVersion = optionalString(o, 'os.version');
  if (osVersion) p['os.version'] = osVersion;
  if (o['os.features'] !== undefined) {
    const f = stringList(o['os.features'], `${what}.os.features`);
    if (f.length > 0) p['os.features'] = f;
  }
  const variant = optionalString(o, 'variant');
  if (variant) p.variant = variant;
  return p;
}

/** A descriptor's fields back in Go's order (after a merge). */
function reorder(d: Descriptor): Descriptor {
  const out: Record<string, unknown> = {};
  for (const k of DESCRIPTOR_FIELDS)
    if ((d as unknown as Record<string, unknown>)[k] !== undefined) out[k] = (d as unknown as Record<string, unknown>)[k];
  return out as unknown as Descriptor;
}

// --- writing JSON as Go's json.MarshalIndent(v, "", "  ") does -----------------------

/** Keys in Go's order (byte order of their UTF-8). */
function sortedMap(m: Record<string, string>): Record<string, string> {
  const keys = Object.keys(m).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = m[k] as string;
  return out;
}

/** A key JavaScript would move to the front of an object (an array index), so the order would not be Go's. */
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

function checkWritable(v: unknown): void {
  if (typeof v === 'string') {
    if (/\p{Cs}/u.test(v)) throw new Unsupported('a string that is not well-formed Unicode');
    return;
  }
  if (Array.isArray(v)) return v.forEach(checkWritable);
  if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (ARRAY_INDEX.test(k) && Number(k) < 2 ** 32 - 1) throw new Unsupported(`a number-like key: ${k}`);
      checkWritable(k);
      checkWritable(x);
    }
  }
}

/**
 * JSON.stringify's indented form is Go's MarshalIndent with two spaces, but
 * for string escapes: Go also escapes <, > and & (HTML-safe) and U+2028 and
 * U+2029. Those characters can only occur inside strings, so they are
 * replaced throughout.
 */
export function goMarshalIndent(v: unknown): string {
  checkWritable(v);
  return JSON.stringify(v, null, 2).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
