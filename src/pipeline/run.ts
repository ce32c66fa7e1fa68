// The pipeline: the list of phases, each one call into its module. Its one
// dependency is the runtime object, so the orchestration is tested with fakes.
import type { Inputs } from '../model.js';
import type { PostState } from '../state.js';
import { renderSummary, timeLogLines, type RunReport } from '../summary.js';
import { outputsOf } from '../outputs.js';
import { withResultsFile } from './results-file.js';
import { errorMessage } from '../util/errors.js';
import { setupBuilder } from './builder.js';
import { buildAll } from './build.js';
import { connect } from './connect.js';
import { composeLocalManifestList, createManifestList } from './index-list.js';
import { PromotionError, checkRegistries, tagAndPromote } from './promote.js';
import { throwIfCancelled } from '../util/cancel.js';
import { prepareQemu, withPlacement } from './qemu.js';
import { createScanner, gateError, scanQueue } from './scan.js';
import { attachSboms } from './sbom.js';
import type { Runtime } from './runtime.js';
import { runClock } from './timing.js';

/** Thrown after the summary is written, so the job fails with this message. */
export class PipelineError extends Error {}

export async function runPipeline(inputs: Inputs, given: Runtime): Promise<RunReport> {
  const clock = runClock(given);
  const rt = clock.runtime;
  const { log } = rt;
  const state: PostState = { tempDir: rt.tempDir };
  rt.saveState(state);
  const { exec, registry } = connect(inputs, rt);

  if (inputs.push) await clock.phase('registries', () => log.group('Registries', () => checkRegistries(registry, inputs, log)));
  const builder = await clock.phase('builder', () =>
    log.group('Builder', () => setupBuilder(exec, inputs, rt, (name) => rt.saveState({ ...state, builder: name }))),
  );
  const qemu = await clock.phase('qemu', () => log.group('QEMU', () => prepareQemu(exec, inputs, builder.info, rt)));

  // The scanner installs trivy and downloads the DB once, while builds run; each
  // platform's scan starts as soon as its build is done.
  const scans = inputs.scan ? scanQueue(clock.scanner(createScanner(exec, inputs, rt))) : undefined;
  const built = await buildAll(exec, inputs, { ...rt, builder: builder.name, emulated: qemu.emulated, onBuilt: scans?.start, registry });
  const scanned = scans ? await scans.collect(built.builds) : { scans: [], failures: [], error: '', dbSources: {} };

  const report: RunReport = {
    image: inputs.image,
    pushed: inputs.push,
    platforms: inputs.platforms.map((p) => p.id),
    builds: withPlacement(built.builds, qemu),
    buildFailures: built.failures,
    scanFailures: scanned.failures,
    scans: scanned.scans,
    scanEnabled: inputs.scan,
    failOn: inputs.failOn,
    tags: inputs.tags,
    promoted: [],
    dbSources: scanned.dbSources,
    sboms: [],
  };
  const finish = async (): Promise<RunReport> => {
    log.info(`registry retries used: ${registry.budget.used} of ${registry.budget.limit}`);
    report.timings = clock.finish(report.builds);
    for (const line of timeLogLines(report)) log.info(line);
    for (const [name, value] of Object.entries(withResultsFile(outputsOf(report), rt.tempDir))) rt.setOutput(name, value);
    await rt.writeSummary(renderSummary(report));
    return report;
  };

  const cancelled = rt.signal?.aborted ? 'cancelled: the run was stopped during the builds and scans, before anything was tagged' : '';
  const failure = [cancelled, built.error, scanned.error].filter((e) => e !== '').join('\n') || (inputs.scan ? gateError(scanned.scans) : undefined);
  if (failure) {
    report.stoppedBecause = failure.split('\n')[0];
    await finish();
    throw new PipelineError(failure);
  }

  // From here on a failure still writes the outputs and the summary it can.
  try {
    if (!inputs.push) {
      const local = await clock.phase('index', () =>
        log.group('Manifest list (not pushed)', () => composeLocalManifestList(exec, inputs, builder.name, built.builds, log)),
      );
      report.digest = local.digest;
      return await finish();
    }
    if (inputs.sbomAttach) report.sboms = await log.group('SBOM', () => attachSboms(registry, inputs.image, built.builds, scanned.scans, log));
    throwIfCancelled(rt.signal, 'stopped before pushing the manifest list');
    const index = await clock.phase('index', () =>
      log.group('Manifest list', () => createManifestList(exec, inputs, builder.name, built.builds, registry, log)),
    );
    report.digest = index.digest;
    throwIfCancelled(rt.signal, 'stopped before tagging');
    const promoted = await clock.phase('promotion', () =>
      log.group('Tag & promote', () => tagAndPromote(inputs, index.digest, built.builds, { log, registry, signal: rt.signal })),
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
