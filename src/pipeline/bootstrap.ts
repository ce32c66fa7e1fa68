// Bootstrap images: the buildkit image of a docker-container builder and the
// binfmt image of a QEMU registration. Docker Hub allows few anonymous pulls,
// so each is pulled here first with `docker pull` (retried while the failure
// is a registry's or the network's), falling back along the ordered list the
// user gave; the one that served is what the builder and the registration use.
import type { Exec } from '../exec.js';
import { CommandError } from '../exec.js';
import type { Inputs } from '../model.js';
import type { Logger } from '../log.js';
import { firstThatServes } from '../util/mirrors.js';
import { lastErrorLine, pullRetryable, retryTool } from '../util/tool-retry.js';

export interface BootstrapDeps {
  log: Logger;
  budget?: { take(): boolean };
  signal?: AbortSignal | undefined;
  /** The wait before a pull's second attempt (default 2 s, doubled after). */
  toolBackoffMs?: number;
}

/** Which image served each bootstrap pull, for the log and the summary. */
export interface BootstrapSources {
  buildkit?: string;
  binfmt?: string;
}

/** Pulls of one image: fewer than other tool runs, since a failing mirror should soon give way to the next. */
export const PULL_ATTEMPTS = 3;

/** Pulls the first of `images` that serves, each with retries; throws naming every one that failed. */
export async function pullFirst(exec: Exec, what: string, images: readonly string[], deps: BootstrapDeps): Promise<string> {
  const served = await firstThatServes(
    images,
    (image) =>
      retryTool(
        async () => {
          await exec('docker', ['pull', image], { silent: true });
          return image;
        },
        {
          what: `docker pull ${image}`,
          retryable: (err) => err instanceof CommandError && pullRetryable(err.stderr),
          why: (err) => lastErrorLine(err instanceof CommandError ? err.stderr : String(err)),
          budget: deps.budget,
          log: (m) => deps.log.info(m),
          signal: deps.signal,
          attempts: PULL_ATTEMPTS,
          ...(deps.toolBackoffMs !== undefined ? { backoffMs: deps.toolBackoffMs } : {}),
        },
      ),
    { what, onFallback: (m) => deps.log.warning(m) },
  );
  deps.log.info(`${what} served by ${served.source}${served.failed.length ? ` (${served.failed.length} of ${images.length} before it failed)` : ''}`);
  return served.value;
}

export type BuildkitBootstrapInputs = Pick<Inputs, 'builder' | 'driver' | 'buildkitImages' | 'driverOpts'>;

/**
 * The builder inputs with `image=<served>` in driver-opts, after pulling the
 * first `buildkit-image` that serves; the inputs unchanged (and no pull) when
 * no builder of the docker-container driver is created or none is given.
 */
export async function withBuildkitImage<T extends BuildkitBootstrapInputs>(
  exec: Exec,
  inputs: T,
  deps: BootstrapDeps,
  sources: BootstrapSources,
): Promise<T> {
  if (inputs.builder !== '' || (inputs.driver || 'docker-container') !== 'docker-container' || inputs.buildkitImages.length === 0) return inputs;
  const image = await pullFirst(exec, 'the buildkit image', inputs.buildkitImages, deps);
  sources.buildkit = image;
  return { ...inputs, driverOpts: [...inputs.driverOpts, `image=${image}`] };
}

/** A lazy binfmt image for the QEMU phase: pulled only when a registration through it happens. */
export function binfmtImage(exec: Exec, inputs: Pick<Inputs, 'qemuImages'>, deps: BootstrapDeps, sources: BootstrapSources): () => Promise<string> {
  return async () => {
    const image = await pullFirst(exec, 'the binfmt image', inputs.qemuImages, deps);
    sources.binfmt = image;
    return image;
  };
}
