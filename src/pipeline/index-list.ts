// Index phase: the manifest list made from the per-platform digests, as
// buildx's `imagetools create` makes it: composed in process from the
// manifests and configs (src/buildx/compose.ts), or by buildx's own dry run
// for whatever that does not reproduce. Its exact bytes are pushed by digest,
// untagged. Tags come last, in the tag phase, so a later failure leaves
// nothing tagged.
import * as fs from 'node:fs';
import type { Exec } from '../exec.js';
import { composeIndex } from '../buildx/imagetools.js';
import { composeList, type ListSource } from '../buildx/compose.js';
import { CommandError } from '../exec.js';
import { CancelledError } from '../util/cancel.js';
import { errorMessage } from '../util/errors.js';
import { composeRetryable, lastErrorLine, retryTool } from '../util/tool-retry.js';
import { ATTESTATION_ARTIFACT_TYPE, isIndex, MANIFEST_MEDIA_TYPES, MEDIA_TYPE } from '../types/buildx.js';
import { parseReference } from '../reference.js';
import type { RegistryClient } from '../registry/client.js';
import { findBlob, serveLayouts } from '../registry/layout-server.js';
import { manifestMediaType } from '../oci.js';
import type { Inputs, PlatformBuild } from '../model.js';
import type { Logger } from '../log.js';

export interface ManifestList {
  digest: string;
  raw: Buffer;
  mediaType: string;
}

/** Index-level annotations (`index:` prefixed ones) go on the manifest list. */
export function indexAnnotations(annotations: readonly string[]): string[] {
  return annotations.filter((a) => a.startsWith('index:'));
}

/** The pushed digests in platform order (the list's order). */
export function orderedPushed(platformOrder: readonly string[], builds: readonly PlatformBuild[]): string[] {
  return platformOrder.flatMap((id) => {
    const b = builds.find((x) => x.platform.id === id);
    return b ? [b.pushedDigest] : [];
  });
}

/** What buildx reads to compose the list: each source's manifest, image configs, and attestation referrers. */
export interface ListReader {
  manifest(digest: string): Promise<{ raw: Buffer; mediaType: string } | undefined>;
  blob(digest: string): Promise<Buffer | undefined>;
  /** How many attestation manifests refer to `digest` (buildx would add one to the list). */
  attestationReferrers(digest: string): Promise<number>;
}

function configDigest(raw: Buffer): string | undefined {
  try {
    const d = (JSON.parse(raw.toString('utf8')) as { config?: { digest?: unknown } }).config?.digest;
    return typeof d === 'string' ? d : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The list from `digests` composed in process, or why it is left to buildx
 * (a source not found, something compose.ts does not reproduce, an
 * attestation referrer buildx would add).
 */
export async function composeFrom(
  reader: ListReader,
  digests: readonly string[],
  annotations: readonly string[],
): Promise<ManifestList | { why: string }> {
  const read = await Promise.all(
    digests.map(async (digest): Promise<ListSource | undefined> => {
      const m = await reader.manifest(digest);
      if (!m) return undefined;
      const config = MANIFEST_MEDIA_TYPES.includes(m.mediaType) ? configDigest(m.raw) : undefined;
      const blob = config ? await reader.blob(config) : undefined;
      return { mediaType: m.mediaType, digest, raw: m.raw, ...(blob ? { config: blob } : {}) };
    }),
  );
  const sources = read.filter((s): s is ListSource => s !== undefined);
  if (sources.length !== digests.length) return { why: 'a source was not found' };
  const list = composeList(sources, annotations);
  if ('unsupported' in list) return { why: list.unsupported };
  const referrers = await Promise.all(list.referrerChecks.map((d) => reader.attestationReferrers(d)));
  if (referrers.some((n) => n > 0)) return { why: 'an attestation referrer, which buildx adds to the list' };
  return { digest: list.digest, raw: list.raw, mediaType: list.mediaType };
}

/** Attestation manifests among the descriptors of a referrers index. */
function attestations(raw: Buffer): number {
  const manifests = (JSON.parse(raw.toString('utf8')) as { manifests?: unknown }).manifests;
  if (!Array.isArray(manifests)) throw new Error('a referrers index without a manifests list');
  return manifests.filter((m) => (m as { artifactType?: unknown } | null)?.artifactType === ATTESTATION_ARTIFACT_TYPE).length;
}

/** Reads the sources from the registry the platforms were pushed to, as buildx would (referrers API, else the `sha256-<hex>` tag). */
export function registryReader(registry: RegistryClient, repo: { registry: string; repository: string }): ListReader {
  return {
    manifest: (digest) => registry.getManifest(repo, digest),
    blob: (digest) => registry.getBlob(repo, digest),
    attestationReferrers: async (digest) => {
      const index = (await registry.referrers(repo, digest)) ?? (await registry.getManifest(repo, digest.replace(':', '-')));
      return index ? attestations(index.raw) : 0;
    },
  };
}

/**
 * Reads the sources from this run's OCI layouts, as buildx reads them through
 * the loopback layout server (media type from the manifest itself; the server
 * has no referrers, and neither do the layouts a build wrote).
 */
export function layoutReader(layouts: readonly string[]): ListReader {
  const read = (digest: string): Buffer | undefined => {
    const file = findBlob(layouts, digest);
    return file ? fs.readFileSync(file) : undefined;
  };
  return {
    manifest: async (digest) => {
      const raw = read(digest);
      return raw ? { raw, mediaType: manifestMediaType(raw) } : undefined;
    },
    blob: async (digest) => read(digest),
    attestationReferrers: async () => 0,
  };
}

/** The list composed in process, or undefined (with the reason logged) when buildx is to compose it. */
async function inProcess(compose: () => Promise<ManifestList | { why: string }>, log: Logger): Promise<ManifestList | undefined> {
  let result: ManifestList | { why: string };
  try {
    result = await compose();
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    result = { why: errorMessage(err) };
  }
  if ('why' in result) {
    log.info(`manifest list: composed by buildx (${result.why})`);
    return undefined;
  }
  return result;
}

/** Composes the manifest list with buildx without pushing it. */
export async function composeManifestList(
  exec: Exec,
  builder: string,
  sources: readonly string[],
  annotations: readonly string[],
): Promise<ManifestList> {
  const { raw: text, digest, parsed } = await composeIndex(exec, builder, sources, annotations);
  if (!isIndex(parsed)) throw new Error('imagetools create --dry-run did not produce an index');
  return { digest, raw: Buffer.from(text, 'utf8'), mediaType: parsed.mediaType ?? MEDIA_TYPE.ociIndex };
}

export async function createManifestList(
  exec: Exec,
  inputs: Inputs,
  builder: string,
  builds: readonly PlatformBuild[],
  registry: RegistryClient,
  log: Logger,
  signal?: AbortSignal,
): Promise<ManifestList> {
  const digests = orderedPushed(
    inputs.platforms.map((p) => p.id),
    builds,
  );
  const sources = digests.map((d) => `${inputs.image}@${d}`);
  const annotations = indexAnnotations(inputs.annotations);
  const ref = parseReference(inputs.image);
  const repo = { registry: ref.registry, repository: ref.repository };
  log.info(`manifest list of ${sources.join(', ')}`);
  const list =
    (await inProcess(() => composeFrom(registryReader(registry, repo), digests, annotations), log)) ??
    // The dry run only reads the platforms' manifests (just pushed): one that failed on the registry runs again.
    (await retryTool(() => composeManifestList(exec, builder, sources, annotations), {
      what: 'manifest list: imagetools create --dry-run',
      retryable: (err) => err instanceof CommandError && composeRetryable(err.stderr, sources),
      why: (err) => lastErrorLine(err instanceof CommandError ? err.stderr : String(err)),
      budget: registry.budget,
      log: (m) => log.info(m),
      signal,
    }));
  await registry.putManifest(repo, list.digest, { raw: list.raw, mediaType: list.mediaType, digest: list.digest });
  const stored = await registry.resolve(repo, list.digest);
  if (stored !== list.digest) throw new Error(`the registry does not return the manifest list ${list.digest} that was pushed`);
  log.info(`manifest list ${list.digest} pushed to ${inputs.image} (untagged until every step has passed)`);
  return list;
}

/**
 * PR mode: the manifest list composed from the per-platform OCI layouts,
 * served read-only on loopback for the duration of the call. Nothing is
 * pushed; the digest is the one a push of these images would produce.
 */
export async function composeLocalManifestList(
  exec: Exec,
  inputs: Inputs,
  builder: string,
  builds: readonly PlatformBuild[],
  log: Logger,
): Promise<ManifestList> {
  const layouts = builds.flatMap((b) => (b.ociLayout ? [b.ociLayout] : []));
  const digests = orderedPushed(
    inputs.platforms.map((p) => p.id),
    builds,
  );
  const annotations = indexAnnotations(inputs.annotations);
  log.info(`manifest list of ${digests.join(', ')} (from the OCI layouts)`);
  const list =
    (await inProcess(() => composeFrom(layoutReader(layouts), digests, annotations), log)) ??
    (await composeServed(exec, builder, layouts, digests, annotations));
  log.info(`manifest list ${list.digest} (not pushed: the digest a push of these images would produce)`);
  return list;
}

/** buildx's dry run over the layouts, served read-only on loopback for the duration of the call. */
async function composeServed(
  exec: Exec,
  builder: string,
  layouts: readonly string[],
  digests: readonly string[],
  annotations: readonly string[],
): Promise<ManifestList> {
  const server = await serveLayouts(layouts);
  try {
    return await composeManifestList(
      exec,
      builder,
      digests.map((d) => `${server.registry}/local@${d}`),
      annotations,
    );
  } finally {
    await server.close();
  }
}
