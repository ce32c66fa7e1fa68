// The pipeline: each mode is a list of phases, each one call into its module.
// `all` is plan + every leg + merge in one process; a distributed run is the
// same phases split over jobs: `plan`, one `platform` job per leg, `merge`.
// The one dependency is the runtime object, so the orchestration is tested with fakes.
import * as fs from 'node:fs';
import type { Inputs, Platform } from '../model.js';
import type { PostState } from '../state.js';
import type { RunReport } from '../summary.js';
import { imageKey, legArtifactName, parseLegRecord, selectLegs, serialiseLegRecord } from '../legs/record.js';
import type { LegStore } from '../legs/store.js';
import { setupBuilder } from './builder.js';
import type { EnsuredBuilder } from '../buildx/builder.js';
import { connect, type Connections } from './connect.js';
import { legRecord, runLegs } from './leg.js';
import { finishReport, legsFailure, legsFromRecords, mergeLegs, PipelineError, reportOf } from './merge.js';
import { planMatrix, type Matrix } from './plan.js';
import { checkRegistries } from './promote.js';
import type { Runtime } from './runtime.js';
import { runClock, type RunClock } from './timing.js';
import { createScanner, type Scanner } from './scan.js';
import { binfmtImage, withBuildkitImage, type BootstrapDeps, type BootstrapSources } from './bootstrap.js';

export { PipelineError } from './merge.js';

/** Runs the phases of `inputs.mode`. */
export async function runMode(inputs: Inputs, rt: Runtime): Promise<RunReport | Matrix> {
  switch (inputs.mode) {
    case 'plan':
      return runPlan(inputs, rt);
    case 'platform':
      return runLeg(inputs, inputs.platform as Platform, rt);
    case 'merge':
      return runMerge(inputs, rt);
    default:
      return runPipeline(inputs, rt);
  }
}

/** `mode: all`: plan, every platform's leg on this runner, merge. */
export async function runPipeline(inputs: Inputs, given: Runtime): Promise<RunReport> {
  const clock = runClock(given);
  const rt = clock.runtime;
  const { conn, builder, boot, scanner } = await prepare(inputs, rt, clock);
  const legs = await runLegs(conn.exec, inputs, inputs.platforms, rt, { builder, clock, registry: conn.registry, boot, ...scanner });
  return mergeLegs(inputs, legs, { ...conn, builder: async () => builder.name, clock }, rt);
}

/** `mode: plan`: every input was checked when parsed; credentials are checked here; the matrix is the output. */
export async function runPlan(inputs: Inputs, rt: Runtime): Promise<Matrix> {
  const { log } = rt;
  const conn = connect(inputs, rt);
  if (inputs.push) await log.group('Registries', () => checkRegistries(conn.registry, inputs, log));
  const matrix = planMatrix(inputs);
  rt.setOutput('matrix', JSON.stringify(matrix));
  for (const e of matrix.include) log.info(`${e.platform}: runs on ${JSON.stringify(e.runner)}`);
  return matrix;
}

/** `mode: platform`: one platform built, pushed by digest (or to an OCI layout), scanned and recorded. No tag. */
export async function runLeg(inputs: Inputs, platform: Platform, given: Runtime): Promise<RunReport> {
  const clock = runClock(given);
  const rt = clock.runtime;
  const store = needStore(rt);
  const startedAt = rt.now();
  const { conn, builder, boot, scanner } = await prepare(inputs, rt, clock);
  rt.log.info(`leg: building ${platform.id} only`);
  const legs = await runLegs(conn.exec, inputs, [platform], rt, { builder, clock, registry: conn.registry, boot, ...scanner });
  const attempt = Number(rt.env.GITHUB_RUN_ATTEMPT || '1');
  const scan = legs.scans[0];
  const files = {
    ...(scan?.sarifFile ? { sarif: await fs.promises.readFile(scan.sarifFile, 'utf8') } : {}),
    ...(scan?.sbomFile ? { sbom: await fs.promises.readFile(scan.sbomFile, 'utf8') } : {}),
    ...(scan?.reportFile ? { report: await fs.promises.readFile(scan.reportFile, 'utf8') } : {}),
  };
  const record = legRecord(platform, legs, files, {
    key: imageKey(inputs),
    runId: rt.env.GITHUB_RUN_ID ?? '',
    attempt,
    hostArch: rt.hostArch,
    startedAt,
    finishedAt: rt.now(),
  });
  const name = legArtifactName(record.key, platform.id, attempt);
  await rt.log.group('Leg record', async () => {
    await store.put(name, Buffer.from(serialiseLegRecord(record)));
    rt.log.info(`${platform.id}: leg record ${name} stored (${store.api})`);
  });
  const report = reportOf({ ...inputs, platforms: [platform] }, legs);
  await finishReport(report, rt, clock, { leg: { platform: platform.id, hostArch: rt.hostArch, attempt, timings: record.timings } });
  // The leg's job fails as `all` would for this platform; the merge job names it again.
  const failure = legsFailure(legs, inputs.scan);
  if (failure) throw new PipelineError(failure);
  return report;
}

/** `mode: merge`: this run's leg records for this image, then the merge phase. */
export async function runMerge(inputs: Inputs, given: Runtime): Promise<RunReport> {
  const clock = runClock(given);
  const rt = clock.runtime;
  const store = needStore(rt);
  const key = imageKey(inputs);
  const runId = rt.env.GITHUB_RUN_ID ?? '';
  const records = await rt.log.group('Leg records', async () => {
    const stored = await store.list(`multiarch-leg-${key}-`);
    const parsed = await Promise.all(stored.map(async (s) => parseLegRecord((await store.get(s)).toString('utf8'), s.name)));
    for (const r of parsed) rt.log.info(`${r.platform}: attempt ${r.attempt} (${r.build ? `built ${r.build.digest}` : 'failed'})`);
    return parsed;
  });
  const planned = inputs.platforms.map((p) => p.id);
  const selected = selectLegs(records, planned, key, runId);
  const legs = legsFromRecords(inputs, selected.legs, selected.missing, rt.tempDir);
  const conn = connect(inputs, rt);
  if (inputs.push) await clock.phase('registries', () => rt.log.group('Registries', () => checkRegistries(conn.registry, inputs, rt.log)));
  let builder: string | undefined;
  const state: PostState = { tempDir: rt.tempDir };
  rt.saveState(state);
  return mergeLegs(
    inputs,
    legs,
    {
      ...conn,
      builder: async () => {
        builder ??= (
          await clock.phase('builder', () =>
            rt.log.group('Builder', async () =>
              setupBuilder(conn.exec, await withBuildkitImage(conn.exec, inputs, bootDeps(rt, conn), {}), rt, (name) =>
                rt.saveState({ ...state, builder: name }),
              ),
            ),
          )
        ).name;
        return builder;
      },
      clock,
    },
    rt,
  );
}

interface Prepared {
  conn: Connections;
  builder: EnsuredBuilder;
  boot: { sources: BootstrapSources; binfmt: () => Promise<string> };
  /** Absent when the run does not scan. */
  scanner: { scanner: Scanner } | undefined;
}

/**
 * State for the post step, connections, the registry check, then the
 * scanner (trivy and its DB fetched while the builder is set up and the
 * builds run) and the builder.
 */
async function prepare(inputs: Inputs, rt: Runtime, clock: RunClock): Promise<Prepared> {
  const { log } = rt;
  const state: PostState = { tempDir: rt.tempDir };
  rt.saveState(state);
  const conn = connect(inputs, rt);
  if (inputs.push) await clock.phase('registries', () => log.group('Registries', () => checkRegistries(conn.registry, inputs, log)));
  const scanner = inputs.scan ? { scanner: clock.scanner(createScanner(conn.exec, inputs, { ...rt, budget: conn.registry.budget })) } : undefined;
  // Bootstrap images are pulled first, falling back along their lists; the builder and QEMU get the one that served.
  const sources: BootstrapSources = {};
  const deps = bootDeps(rt, conn);
  const builder = await clock.phase('builder', () =>
    log.group('Builder', async () =>
      setupBuilder(conn.exec, await withBuildkitImage(conn.exec, inputs, deps, sources), rt, (name) => rt.saveState({ ...state, builder: name })),
    ),
  );
  return { conn, builder, boot: { sources, binfmt: binfmtImage(conn.exec, inputs, deps, sources) }, scanner };
}

function bootDeps(rt: Runtime, conn: Connections): BootstrapDeps {
  return {
    log: rt.log,
    budget: conn.registry.budget,
    signal: rt.signal,
    ...(rt.toolBackoffMs !== undefined ? { toolBackoffMs: rt.toolBackoffMs } : {}),
  };
}

function needStore(rt: Runtime): LegStore {
  if (!rt.legStore) {
    throw new PipelineError(
      'mode: platform and merge pass leg records through the workflow run artifact service, and this runner has none (no ACTIONS_RESULTS_URL / ACTIONS_RUNTIME_TOKEN)',
    );
  }
  return rt.legStore;
}
