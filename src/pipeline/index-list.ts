// Index phase: the manifest list made from the per-platform digests. buildx
// composes it (`imagetools create --dry-run`, platform fields and attestation
// manifests included); its exact bytes are pushed by digest, untagged. Tags
// come last, in the tag phase, so a later failure leaves nothing tagged.
import type { Exec } from '../exec.js';
import { composeIndex } from '../buildx/imagetools.js';
import { CommandError } from '../exec.js';
import { composeRetryable, lastErrorLine, retryTool } from '../util/tool-retry.js';
import { isIndex } from '../types/buildx.js';
import { parseReference } from '../reference.js';
import type { RegistryClient } from '../registry/client.js';
import { serveLayouts } from '../registry/layout-server.js';
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

export function indexSources(image: string, platformOrder: readonly string[], builds: readonly PlatformBuild[]): string[] {
  return platformOrder.flatMap((id) => {
    const b = builds.find((x) => x.platform.id === id);
    return b ? [`${image}@${b.pushedDigest}`] : [];
  });
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
  return { digest, raw: Buffer.from(text, 'utf8'), mediaType: parsed.mediaType ?? 'application/vnd.oci.image.index.v1+json' };
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
  const sources = indexSources(
    inputs.image,
    inputs.platforms.map((p) => p.id),
    builds,
  );
  // The dry run only reads the platforms' manifests (just pushed): one that failed on the registry runs again.
  const list = await retryTool(() => composeManifestList(exec, builder, sources, indexAnnotations(inputs.annotations)), {
    what: 'manifest list: imagetools create --dry-run',
    retryable: (err) => err instanceof CommandError && composeRetryable(err.stderr, sources),
    why: (err) => lastErrorLine(err instanceof CommandError ? err.stderr : String(err)),
    budget: registry.budget,
    log: (m) => log.info(m),
    signal,
  });
  const ref = parseReference(inputs.image);
  const repo = { registry: ref.registry, repository: ref.repository };
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
  const server = await serveLayouts(layouts);
  try {
    const sources = indexSources(
      `${server.registry}/local`,
      inputs.platforms.map((p) => p.id),
      builds,
    );
    const list = await composeManifestList(exec, builder, sources, indexAnnotations(inputs.annotations));
    log.info(`manifest list ${list.digest} (not pushed: the digest a push of these images would produce)`);
    return list;
  } finally {
    await server.close();
  }
}
