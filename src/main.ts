// The action's main step: reads the inputs and wires the real runtime (exec
// seam, logger, clock, environment, installers, runner outputs) into the pipeline.
import * as core from './util/core.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { getInputs } from './context.js';
import { execCommand } from './exec.js';
import { directBuildx } from './buildx/command.js';
import { buildxPluginFinder } from './buildx/plugin.js';
import type { Logger } from './log.js';
import { readBinfmtEntries } from './qemu/setup.js';
import { defaultInstallDeps, ensureBuildx } from './buildx/install.js';
import { defaultTrivyInstallDeps, ensureTrivy } from './scan/install.js';
import { runMode } from './pipeline/run.js';
import { runnerLegStore } from './legs/store.js';
import type { Runtime } from './pipeline/runtime.js';
import { saveState, type PostState } from './state.js';
import { cleanup } from './post.js';
import type { Inputs } from './model.js';
import { errorMessage } from './util/errors.js';
import { fileVersionMemo } from './util/version-memo.js';

const actionsLogger: Logger = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (name, fn) => core.group(name, fn),
};

/** The entry point: real inputs and real dependencies. */
export async function main(): Promise<void> {
  const started = { process: Math.round(performance.timeOrigin), main: Date.now() };
  const env = process.env;
  let inputs: Inputs;
  try {
    inputs = getInputs(env);
  } catch (err) {
    core.setFailed(errorMessage(err));
    return;
  }
  const tempDir = fs.mkdtempSync(path.join(env.RUNNER_TEMP || os.tmpdir(), 'multiarch-'));
  const info = (m: string): void => core.info(m);
  const buildxPlugin = buildxPluginFinder(env);
  // Beside the tools themselves: a tool cache that outlives the job (self-hosted) keeps it too.
  const versionMemo = env.RUNNER_TOOL_CACHE
    ? fileVersionMemo(path.join(env.RUNNER_TOOL_CACHE, 'multiarch-build-scan-promote', 'tool-versions.json'))
    : undefined;
  // The runner cancels a job with SIGINT, then SIGTERM: either aborts the run's
  // signal, which stops in-flight requests and processes; no tag is written after.
  const cancel = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (cancel.signal.aborted) return;
    core.warning(`${name} received: cancelling the run (in-flight work is stopped; nothing more is tagged or promoted)`);
    cancel.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let saved: PostState = {};
  const rt: Runtime = {
    exec: execCommand,
    log: actionsLogger,
    env,
    now: () => Date.now(),
    started,
    tempDir,
    cwd: process.cwd(),
    hostArch: process.arch,
    readBinfmt: () => readBinfmtEntries(),
    builderName: `multiarch-${randomBytes(4).toString('hex')}`,
    buildxPlugin,
    ensureBuildx: () =>
      ensureBuildx(
        defaultInstallDeps(directBuildx(execCommand, buildxPlugin), info, env, { plugin: buildxPlugin, ...(versionMemo ? { versionMemo } : {}) }),
        inputs.buildxVersion,
        inputs.buildxBaseUrl,
      ).then(() => undefined),
    ensureTrivy: () => ensureTrivy(defaultTrivyInstallDeps(execCommand, info, versionMemo), inputs.trivyVersion, inputs.trivyBaseUrl),
    setOutput: (n, v) => core.setOutput(n, v),
    writeSummary: async (md) => {
      core.appendSummary(md);
    },
    saveState: (s) => {
      saved = s;
      saveState(s);
    },
    mask: (s) => core.setSecret(s),
    signal: cancel.signal,
  };
  const legStore = runnerLegStore(env);
  if (legStore) rt.legStore = legStore;
  try {
    await runMode(inputs, rt);
  } catch (err) {
    core.setFailed(errorMessage(err));
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // Credentials never outlive the main step.
    fs.rmSync(path.join(tempDir, 'docker-config'), { recursive: true, force: true });
    // A builder this run made goes now: the post step runs only when the job
    // failed or was cancelled (action.yml post-if), as the cleanup of a main
    // step that did not get here. The temp dir stays for later steps (the
    // reports and SARIF files named in the outputs); the runner empties
    // RUNNER_TEMP when the job ends.
    if (saved.builder) {
      await cleanup(directBuildx(execCommand, buildxPlugin), { builder: saved.builder }, (m) => core.warning(m));
      saveState({ ...(saved.tempDir ? { tempDir: saved.tempDir } : {}) });
    }
  }
}
