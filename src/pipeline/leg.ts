// Legs phase: QEMU, build and scan for a set of platforms on this runner (all
// of them in `mode: all`, the one `platform` in `mode: platform`), and the
// leg record a `platform` job leaves for the merge job.
import * as fs from 'node:fs';
import type { Exec } from '../exec.js';
import { ociBlobPath } from '../buildx/build.js';
import type { Inputs, Platform, PlatformBuild } from '../model.js';
import type { LegRecord } from '../legs/record.js';
import { LEG_RECORD_VERSION } from '../legs/record.js';
import { isIndex, parseManifestOrIndex } from '../types/buildx.js';
import type { PlatformScan } from '../scan/gate.js';
import { buildAll } from './build.js';
import type { PlatformFailure } from './failures.js';
import { prepareQemu, withPlacement } from './qemu.js';
import { scanQueue, type DbSources, type Scanner } from './scan.js';
import type { EnsuredBuilder } from '../buildx/builder.js';
import type { RegistryClient } from '../registry/client.js';
import type { Runtime } from './runtime.js';
import type { BootstrapSources } from './bootstrap.js';
import type { RunClock } from './timing.js';

/** What the legs produced: the currency of the merge, whether legs ran here or in other jobs. */
export interface LegsResult {
  builds: PlatformBuild[];
  buildFailures: PlatformFailure[];
  scans: PlatformScan[];
  /** Platforms built whose scan could not run. */
  scanFailures: PlatformFailure[];
  /** Wall seconds of each platform's scan. */
  scanSeconds: Record<string, number>;
  /** Where trivy's DBs came from (the summary says). */
  dbSources: DbSources;
  /** Which image served each bootstrap pull (the summary says). */
  bootstrap?: BootstrapSources;
}

export interface LegsDeps {
  builder: EnsuredBuilder;
  clock: RunClock;
  /** Reads each pushed manifest over HTTP (no process per manifest). */
  registry: RegistryClient;
  /** The bootstrap images (pipeline/bootstrap.ts): which served, and the binfmt image pulled when QEMU registers. */
  boot?: { sources: BootstrapSources; binfmt: () => Promise<string> };
  /** The run's scanner (trivy and its DB already on their way); absent when the run does not scan. */
  scanner?: Scanner;
}

/** QEMU only for the platforms this runner cannot run, then every build with its scan as soon as it is built. */
export async function runLegs(exec: Exec, inputs: Inputs, platforms: readonly Platform[], rt: Runtime, deps: LegsDeps): Promise<LegsResult> {
  const { log } = rt;
  const { builder, clock } = deps;
  const these = { ...inputs, platforms: [...platforms] };
  const qemu = await clock.phase('qemu', () => log.group('QEMU', () => prepareQemu(exec, these, builder.info, rt, deps.boot?.binfmt)));
  const scans = deps.scanner ? scanQueue(deps.scanner) : undefined;
  const built = await buildAll(exec, these, {
    ...rt,
    builder: builder.name,
    emulated: qemu.emulated,
    onBuilt: scans?.start,
    registry: deps.registry,
  });
  const scanned = scans ? await scans.collect(built.builds) : { scans: [], failures: [], dbSources: {} };
  return {
    builds: withPlacement(built.builds, qemu),
    buildFailures: built.failures,
    scans: scanned.scans,
    scanFailures: scanned.failures,
    scanSeconds: clock.scanSeconds(),
    dbSources: scanned.dbSources,
    ...(deps.boot ? { bootstrap: deps.boot.sources } : {}),
  };
}

/**
 * The manifests and configs of an OCI layout's image (the per-platform index,
 * its image and attestation manifests, their configs): what buildx reads to
 * compose a manifest list. Layers stay behind.
 */
export function layoutBlobs(layoutDir: string, top: string): Record<string, string> {
  const blobs: Record<string, string> = {};
  // buildx writes every blob to the layout; one that is not there is left out,
  // and composing fails naming it if buildx asks for it.
  const add = (digest: string): Buffer | undefined => {
    const file = ociBlobPath(layoutDir, digest);
    if (!fs.existsSync(file)) return undefined;
    const raw = fs.readFileSync(file);
    blobs[digest] = raw.toString('base64');
    return raw;
  };
  const visit = (digest: string): void => {
    const raw = add(digest);
    if (!raw) return;
    const m = parseManifestOrIndex(raw, `manifest ${digest}`);
    if (isIndex(m)) for (const d of m.manifests) visit(d.digest);
    else add(m.config.digest);
  };
  if (!add(top)) throw new Error(`the OCI layout ${layoutDir} does not hold ${top}`);
  delete blobs[top];
  visit(top);
  return blobs;
}

export interface LegRecordContext {
  key: string;
  runId: string;
  attempt: number;
  hostArch: string;
  startedAt: number;
  finishedAt: number;
}

/** The record of the one platform a `platform` job built. */
export function legRecord(
  platform: Platform,
  legs: LegsResult,
  files: { sarif?: string; sbom?: string; report?: string },
  ctx: LegRecordContext,
): LegRecord {
  const build = legs.builds.find((b) => b.platform.id === platform.id);
  const buildError = legs.buildFailures.find((f) => f.platform === platform.id)?.message;
  const scan = legs.scans.find((s) => s.platform === platform.id);
  const scanError = legs.scanFailures.find((f) => f.platform === platform.id)?.message;
  return {
    version: LEG_RECORD_VERSION,
    key: ctx.key,
    runId: ctx.runId,
    attempt: ctx.attempt,
    platform: platform.id,
    hostArch: ctx.hostArch,
    ...(build ? { build: { digest: build.digest, pushedDigest: build.pushedDigest, size: build.size, emulated: build.emulated } } : {}),
    ...(build ? {} : { buildError: buildError ?? 'the build did not finish' }),
    ...(scan ? { scan: { counts: scan.counts, passed: scan.passed, findings: scan.findings, ...files } } : {}),
    ...(scanError ? { scanError } : {}),
    blobs: build?.ociLayout ? layoutBlobs(build.ociLayout, build.pushedDigest) : {},
    timings: {
      build: build?.seconds ?? 0,
      ...(legs.scanSeconds[platform.id] !== undefined ? { scan: legs.scanSeconds[platform.id] as number } : {}),
      total: (ctx.finishedAt - ctx.startedAt) / 1000,
      startedAt: new Date(ctx.startedAt).toISOString(),
    },
  };
}
