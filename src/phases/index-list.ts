// Index phase: the manifest list from the per-platform digests, tagged, and
// checked against what the registry then returns for the first tag.
import type { Exec } from '../exec.js';
import { createIndex, inspectRaw } from '../buildx/imagetools.js';
import type { Inputs, PlatformBuild } from '../types.js';
import type { Logger } from '../main.js';

export interface ManifestList {
  digest: string;
  tags: string[];
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

export async function createManifestList(exec: Exec, inputs: Inputs, builder: string, builds: readonly PlatformBuild[], log: Logger): Promise<ManifestList> {
  const sources = indexSources(inputs.image, inputs.platforms.map((p) => p.id), builds);
  const created = await createIndex(exec, builder, inputs.tags, sources, { annotations: indexAnnotations(inputs.annotations), onLine: (l) => log.info(l) });
  const [first] = inputs.tags;
  if (first) {
    const stored = await inspectRaw(exec, builder, first);
    if (stored.digest !== created.digest) {
      throw new Error(`the registry returns ${stored.digest} for ${first}, but the manifest list created was ${created.digest}`);
    }
  }
  log.info(`manifest list ${created.digest}${inputs.tags.length ? ` tagged ${inputs.tags.join(', ')}` : ''}`);
  return { digest: created.digest, tags: [...inputs.tags] };
}
