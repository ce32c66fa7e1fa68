// Build phase: one `docker buildx build` per platform, at most `max-parallel`
// at once, each pushed by digest (or written to an OCI layout). `onBuilt` is
// told of each platform as soon as its own build is done (the scan starts there).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Exec } from '../exec.js';
import { CommandError, lastLines } from '../exec.js';
import { buildArgs, buildPlatform, ociBlobPath, parseSecrets, resolveImageManifest, type FetchRaw } from '../buildx/build.js';
import { inspectRaw } from '../buildx/imagetools.js';
import { platformSlug } from '../platform.js';
import { parseReference } from '../reference.js';
import type { RegistryClient } from '../registry/client.js';
import { mapLimit } from '../util/limit.js';
import type { Inputs, Platform, PlatformBuild } from '../model.js';
import type { Logger } from '../log.js';
import { describeFailures, type PlatformFailure } from './failures.js';
import { errorMessage } from '../util/errors.js';
import { buildPushRetryable, retryTool, lastErrorLine } from '../util/tool-retry.js';

/** How many of a failed platform's last log lines go into the error. */
const FAILURE_TAIL = 15;

export interface BuildPhaseDeps {
  tempDir: string;
  log: Logger;
  builder: string;
  /** Platform ids that run under QEMU on this host. */
  emulated: readonly string[];
  /** Called once per platform whose build succeeded, as soon as it did. */
  onBuilt?: ((build: PlatformBuild) => void) | undefined;
  /** The run's retry budget (shared with the registry client); a build retry takes one. */
  budget?: { take(): boolean };
  signal?: AbortSignal | undefined;
  /** The wait before a build's second attempt (default 2 s, doubled after). */
  toolBackoffMs?: number;
  /** The run's clock (milliseconds). */
  now?: () => number;
  /**
   * Reads the pushed manifests over HTTP (milliseconds), instead of one
   * `imagetools inspect --raw` process per manifest (a few hundred each).
   */
  registry?: RegistryClient;
}

export interface BuildPhaseResult {
  builds: PlatformBuild[];
  failures: PlatformFailure[];
  /** One message for every failure, platforms named, each with its last log lines. */
  error: string;
}

export async function buildAll(exec: Exec, inputs: Inputs, deps: BuildPhaseDeps): Promise<BuildPhaseResult> {
  const secretFiles = writeSecretFiles(inputs, deps.tempDir);
  const results = await mapLimit(inputs.platforms, inputs.maxParallel, async (platform) => {
    const build = await buildOne(exec, inputs, platform, { ...deps, secretFiles });
    deps.onBuilt?.(build);
    return build;
  });

  const builds: PlatformBuild[] = [];
  const failures: PlatformFailure[] = [];
  results.forEach((r, i) => {
    const id = (inputs.platforms[i] as Platform).id;
    if (r.status === 'fulfilled') builds.push(r.value);
    else failures.push({ platform: id, message: errorMessage(r.reason) });
  });
  return { builds, failures, error: describeFailures(failures) };
}

interface OneDeps extends BuildPhaseDeps {
  secretFiles: Record<string, string>;
}

async function buildOne(exec: Exec, inputs: Inputs, platform: Platform, deps: OneDeps): Promise<PlatformBuild> {
  const slug = platformSlug(platform);
  const metadataFile = path.join(deps.tempDir, `metadata-${slug}.json`);
  const ociDir = path.join(deps.tempDir, 'oci', slug);
  const output = inputs.push ? ({ kind: 'registry' } as const) : ({ kind: 'oci', dest: ociDir } as const);
  const args = buildArgs(inputs, platform, { builder: deps.builder, metadataFile, output, secretFiles: deps.secretFiles });
  const lines: string[] = [];
  deps.log.info(`${platform.id}: build started`);
  // Where the current attempt's lines start: a retry is decided from its own output.
  let from = 0;
  try {
    // A build that failed in pushing runs again: BuildKit's cache makes only the push repeat.
    // A failing RUN step (or anything else in the build itself) is never retried.
    const meta = await retryTool(
      (n) => {
        from = lines.length;
        if (n > 1) lines.push(`(attempt ${n})`);
        return buildPlatform(exec, args, {
          metadataFile,
          onLine: (l) => lines.push(l),
          readFile: (f) => fs.promises.readFile(f, 'utf8'),
          ...(deps.now ? { now: deps.now } : {}),
        });
      },
      {
        what: `${platform.id}: build`,
        retryable: (err) => err instanceof CommandError && buildPushRetryable(attemptOutput(lines, from, err)),
        why: (err) => lastErrorLine(attemptOutput(lines, from, err)),
        budget: deps.budget ?? deps.registry?.budget,
        log: (m) => deps.log.info(m),
        signal: deps.signal,
        ...(deps.toolBackoffMs !== undefined ? { backoffMs: deps.toolBackoffMs } : {}),
      },
    );
    const fetchRaw: FetchRaw = !inputs.push
      ? (d) => fs.promises.readFile(ociBlobPath(ociDir, d))
      : deps.registry
        ? registryFetch(deps.registry, inputs.image)
        : async (d) => (await inspectRaw(exec, deps.builder, `${inputs.image}@${d}`)).raw;
    const image = await resolveImageManifest(fetchRaw, meta.digest, platform);
    return {
      platform,
      digest: image.digest,
      pushedDigest: image.pushedDigest,
      ref: inputs.push ? `${inputs.image}@${image.digest}` : ociDir,
      ...(inputs.push ? {} : { ociLayout: ociDir }),
      seconds: meta.seconds,
      size: image.size,
      emulated: deps.emulated.includes(platform.id),
      steps: meta.steps,
    };
  } catch (err) {
    const tail = lastLines(lines.join('\n'), FAILURE_TAIL);
    const why = err instanceof CommandError ? `build failed (exit code ${err.exitCode})` : `build failed: ${errorMessage(err)}`;
    throw new Error(tail ? `${why}; last log lines:\n${tail}` : why, { cause: err });
  } finally {
    await deps.log.group(`Build ${platform.id}`, async () => {
      for (const l of lines) deps.log.info(`[${platform.id}] ${l}`);
    });
  }
}

/** One attempt's output: the lines it printed, or the error's stderr when it printed none through onLine. */
function attemptOutput(lines: readonly string[], from: number, err: unknown): string {
  const own = lines.slice(from).join('\n');
  return own.trim() !== '' ? own : err instanceof CommandError ? err.stderr : '';
}

function registryFetch(registry: RegistryClient, image: string): FetchRaw {
  const { registry: host, repository } = parseReference(image);
  return async (digest) => {
    const m = await registry.getManifest({ registry: host, repository }, digest);
    if (!m) throw new Error(`${image}@${digest} is not in the registry after the build pushed it`);
    return m.raw;
  };
}

/** Secret values go to 0600 files in the run's temp dir; argv carries only paths. */
function writeSecretFiles(inputs: Inputs, tempDir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const entries = parseSecrets(inputs.secrets);
  if (!entries.length) return files;
  const dir = path.join(tempDir, 'secrets');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const { id, value } of entries) {
    const file = path.join(dir, id);
    fs.writeFileSync(file, value, { mode: 0o600 });
    files[id] = file;
  }
  return files;
}
