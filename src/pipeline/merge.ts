// Merge phase: the gate over every leg, then the manifest list (pushed by
// digest, or in PR mode only its digest), tags and promotion, the outputs and
// one summary. The legs ran in this process (`mode: all`) or in other jobs
// (`mode: merge`, from their leg records).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Exec } from '../exec.js';
import { ociBlobPath } from '../buildx/build.js';
import type { Inputs, PlatformBuild } from '../model.js';
import { parsePlatform, platformSlug } from '../platform.js';
import type { RegistryClient } from '../registry/client.js';
import { legScan, type LegRecord } from '../legs/record.js';
import { renderSummary, timeLogLines, type RunReport } from '../summary.js';
import { outputsOf } from '../outputs.js';
import { throwIfCancelled } from '../util/cancel.js';
import { errorMessage } from '../util/errors.js';
import { describeFailures } from './failures.js';
import { composeLocalManifestList, createManifestList } from './index-list.js';
import type { LegsResult } from './leg.js';
import { PromotionError, tagAndPromote } from './promote.js';
import { gateError } from './scan.js';
import { attachSboms } from './sbom.js';
import { withResultsFile } from './results-file.js';
import type { Runtime } from './runtime.js';
import type { RunClock } from './timing.js';

/** Thrown after the summary is written, so the job fails with this message. */
export class PipelineError extends Error {}

export interface MergeDeps {
  exec: Exec;
  registry: RegistryClient;
  /** The builder for `imagetools create`; asked for only once every leg passed. */
  builder(): Promise<string>;
  clock: RunClock;
}

export function reportOf(inputs: Inputs, legs: LegsResult): RunReport {
  return {
    image: inputs.image,
    pushed: inputs.push,
    platforms: inputs.platforms.map((p) => p.id),
    builds: legs.builds,
    buildFailures: legs.buildFailures,
    scanFailures: legs.scanFailures,
    scans: legs.scans,
    scanEnabled: inputs.scan,
    failOn: inputs.failOn,
    tags: inputs.tags,
    promoted: [],
    dbSources: legs.dbSources,
    ...(legs.bootstrap ? { bootstrap: legs.bootstrap } : {}),
    sboms: [],
  };
}

/** Writes the report's outputs (`metadata` with `extra` fields, e.g. a leg's timings) and summary, with the run's timings. */
export async function finishReport(
  report: RunReport,
  rt: Pick<Runtime, 'setOutput' | 'writeSummary' | 'tempDir' | 'log'>,
  clock: RunClock,
  extra: Record<string, unknown> = {},
): Promise<RunReport> {
  report.timings = clock.finish(report.builds);
  for (const line of timeLogLines(report)) rt.log.info(line);
  const outputs = outputsOf(report);
  if (Object.keys(extra).length) outputs.metadata = JSON.stringify({ ...(JSON.parse(outputs.metadata ?? '{}') as object), ...extra });
  for (const [name, value] of Object.entries(withResultsFile(outputs, rt.tempDir))) rt.setOutput(name, value);
  await rt.writeSummary(renderSummary(report));
  return report;
}

/** Why the legs cannot be merged: failed builds, failed scans, else the gate; undefined when all passed. */
export function legsFailure(legs: LegsResult, scan: boolean): string | undefined {
  const failed = [describeFailures(legs.buildFailures), describeFailures(legs.scanFailures)].filter((e) => e !== '').join('\n');
  return failed || (scan ? gateError(legs.scans) : undefined);
}

export async function mergeLegs(inputs: Inputs, legs: LegsResult, deps: MergeDeps, rt: Runtime): Promise<RunReport> {
  const { log } = rt;
  const { exec, registry, clock } = deps;
  const report = reportOf(inputs, legs);
  const finish = (): Promise<RunReport> => {
    log.info(`registry retries used: ${registry.budget.used} of ${registry.budget.limit}`);
    return finishReport(report, rt, clock);
  };
  const cancelled = rt.signal?.aborted ? 'cancelled: the run was stopped during the builds and scans, before anything was tagged' : '';
  const failure = [cancelled, legsFailure(legs, inputs.scan) ?? ''].filter((e) => e !== '').join('\n');
  if (failure) {
    report.stoppedBecause = failure.split('\n')[0];
    await finish();
    throw new PipelineError(failure);
  }

  // From here on a failure still writes the outputs and the summary it can.
  try {
    const builder = await deps.builder();
    if (!inputs.push) {
      const local = await clock.phase('index', () =>
        log.group('Manifest list (not pushed)', () => composeLocalManifestList(exec, inputs, builder, legs.builds, log)),
      );
      report.digest = local.digest;
      return await finish();
    }
    if (inputs.sbomAttach) report.sboms = await log.group('SBOM', () => attachSboms(registry, inputs.image, legs.builds, legs.scans, log));
    throwIfCancelled(rt.signal, 'stopped before pushing the manifest list');
    const index = await clock.phase('index', () =>
      log.group('Manifest list', () => createManifestList(exec, inputs, builder, legs.builds, registry, log, rt.signal)),
    );
    report.digest = index.digest;
    throwIfCancelled(rt.signal, 'stopped before tagging');
    const promoted = await clock.phase('promotion', () =>
      log.group('Tag & promote', () => tagAndPromote(inputs, index.digest, legs.builds, { log, registry, signal: rt.signal })),
    );
    report.promoted = promoted.rows;
    report.writes = promoted.writes;
  } catch (err) {
    const message = errorMessage(err);
    report.stoppedBecause = message.split('\n')[0];
    if (err instanceof PromotionError) report.writes = err.writes;
    // Nothing points at an untagged manifest list: the error names it, no output does.
    const digest = report.digest;
    delete report.digest;
    await finish();
    const fate = err instanceof PromotionError && err.indexDeleted ? 'was deleted again' : 'was pushed untagged';
    throw new PipelineError(digest ? `${message} (manifest list ${digest} ${fate})` : message);
  }
  return finish();
}

export const MISSING_LEG = 'no leg record in this workflow run: its job was skipped or cancelled, or stopped before recording the leg';

/**
 * The legs as the merge sees them, from the newest record of each planned
 * platform. PR mode: each leg's manifests and configs are written to an
 * OCI-layout-shaped directory, for the manifest list's digest. SARIF content
 * is written to `sarif` on this runner.
 */
export function legsFromRecords(
  inputs: Pick<Inputs, 'image' | 'push' | 'sarif'>,
  records: readonly LegRecord[],
  missing: readonly string[],
  tempDir: string,
): LegsResult {
  const legs: LegsResult = { builds: [], buildFailures: [], scans: [], scanFailures: [], scanSeconds: {}, dbSources: {} };
  for (const r of records) {
    if (!r.build) {
      legs.buildFailures.push({ platform: r.platform, message: r.buildError ?? 'the build failed' });
      continue;
    }
    const platform = parsePlatform(r.platform);
    const slug = platformSlug(platform);
    const build: PlatformBuild = {
      platform,
      digest: r.build.digest,
      pushedDigest: r.build.pushedDigest,
      ref: `${inputs.image}@${r.build.digest}`,
      seconds: r.timings.build,
      size: r.build.size,
      emulated: r.build.emulated,
    };
    if (!inputs.push) {
      const dir = path.join(tempDir, 'legs', slug);
      for (const [digest, b64] of Object.entries(r.blobs)) {
        const file = ociBlobPath(dir, digest);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, Buffer.from(b64, 'base64'));
      }
      build.ociLayout = dir;
      build.ref = dir;
    }
    legs.builds.push(build);
    if (r.scanError) legs.scanFailures.push({ platform: r.platform, message: r.scanError });
    const scan = legScan(r);
    if (scan) {
      if (r.scan?.sarif !== undefined && inputs.sarif) {
        fs.mkdirSync(inputs.sarif, { recursive: true });
        scan.sarifFile = path.join(inputs.sarif, `trivy-${slug}.sarif`);
        fs.writeFileSync(scan.sarifFile, r.scan.sarif);
      }
      if (r.scan?.report !== undefined) {
        scan.reportFile = path.join(tempDir, 'legs', `trivy-${slug}.json`);
        fs.mkdirSync(path.dirname(scan.reportFile), { recursive: true });
        fs.writeFileSync(scan.reportFile, r.scan.report);
      }
      if (r.scan?.sbom !== undefined) {
        scan.sbomFile = path.join(tempDir, 'legs', `sbom-${slug}.cdx.json`);
        fs.mkdirSync(path.dirname(scan.sbomFile), { recursive: true });
        fs.writeFileSync(scan.sbomFile, r.scan.sbom);
      }
      legs.scans.push(scan);
    }
    if (r.timings.scan !== undefined) legs.scanSeconds[r.platform] = r.timings.scan;
  }
  for (const p of missing) legs.buildFailures.push({ platform: p, message: MISSING_LEG });
  return legs;
}
