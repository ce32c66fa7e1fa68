// The action's main step: the list of phases. Each phase is one call into its
// module; `runPipeline` takes its dependencies so the orchestration is tested.
import * as core from '@actions/core';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { getInputs } from './context.js';
import { execCommand, type Exec } from './exec.js';
import { setupQemu, planQemu, readBinfmtEntries, type BinfmtEntry } from './qemu.js';
import { ensureBuilder } from './buildx/builder.js';
import { defaultInstallDeps, ensureBuildx } from './buildx/install.js';
import { readDockerConfigAuths, writeDockerConfig } from './credentials.js';
import { RegistryClient } from './registry/client.js';
import { buildAll, type BuildPhaseResult } from './phases/build.js';
import { createScanner, gateError, type Scanner } from './phases/scan.js';
import { composeLocalManifestList, createManifestList } from './phases/index-list.js';
import { checkRegistries, tagAndPromote } from './phases/promote.js';
import { outputsOf } from './outputs.js';
import { renderSummary, type RunReport } from './summary.js';
import { saveState, type PostState } from './state.js';
import { defaultTrivyInstallDeps, ensureTrivy } from './scan/install.js';
import type { Inputs } from './types.js';
import { errorMessage } from './util/errors.js';

export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface PipelineDeps {
  exec: Exec;
  log: Logger;
  /** This run's own temporary directory (metadata files, DOCKER_CONFIG, reports). */
  tempDir: string;
  /** Node's process.arch of the host. */
  hostArch: string;
  readBinfmt(): Promise<BinfmtEntry[]>;
  /** Name for a builder this run creates. */
  builderName: string;
  ensureBuildx(): Promise<void>;
  /** Path of a trivy binary of the wanted version. */
  ensureTrivy(): Promise<string>;
  setOutput(name: string, value: string): void;
  writeSummary(markdown: string): Promise<void>;
  saveState(state: PostState): void;
  /** Masks a secret in every later log line. */
  mask(secret: string): void;
  /** The registry client's HTTP (tests pass a fake registry). */
  fetchImpl?: typeof fetch;
}

/** Thrown after the summary is written, so the job fails with this message. */
export class PipelineError extends Error {}

export async function runPipeline(inputs: Inputs, deps: PipelineDeps): Promise<RunReport> {
  const { log } = deps;
  const state: PostState = { tempDir: deps.tempDir };
  deps.saveState(state);
  const { exec, registry } = connect(inputs, deps);

  if (inputs.push) await log.group('Registries', () => checkRegistries(registry, inputs, log));

  const qemu = await log.group('QEMU', async () => {
    const plan = planQemu(inputs.qemu, inputs.platforms, deps.hostArch, await deps.readBinfmt());
    return setupQemu(exec, plan, { qemuImage: inputs.qemuImage, log: (m) => log.info(m) });
  });

  const builder = await log.group('Builder', async () => {
    await deps.ensureBuildx();
    const configFile = inlineBuildkitdConfig(inputs, deps.tempDir);
    const b = await ensureBuilder(exec, inputs, { name: deps.builderName, ...(configFile ? { configFile } : {}) });
    if (b.created) deps.saveState({ ...state, builder: b.name });
    log.info(`${b.created ? 'created' : 'using'} builder ${b.name} (${b.info.driver})`);
    return b;
  });

  // The scanner installs trivy and downloads the DB once, while builds run.
  const scanner: Scanner | undefined = inputs.scan ? createScanner(exec, inputs, deps) : undefined;
  const built: BuildPhaseResult = await buildAll(exec, inputs, { ...deps, builder: builder.name, emulated: qemu.emulated, scanner });

  const report: RunReport = {
    image: inputs.image,
    pushed: inputs.push,
    platforms: inputs.platforms.map((p) => p.id),
    builds: built.builds,
    buildFailures: built.failures,
    scans: built.scans,
    scanEnabled: inputs.scan,
    failOn: inputs.failOn,
    tags: inputs.tags,
    promoted: [],
  };
  const finish = async (): Promise<RunReport> => {
    for (const [name, value] of Object.entries(outputsOf(report))) deps.setOutput(name, value);
    await deps.writeSummary(renderSummary(report));
    return report;
  };

  const failure = built.failures.length ? built.error : inputs.scan ? gateError(built.scans) : undefined;
  if (failure) {
    report.stoppedBecause = failure.split('\n')[0];
    await finish();
    throw new PipelineError(failure);
  }

  // From here on a failure still writes the outputs and the summary it can.
  try {
    if (!inputs.push) {
      const local = await log.group('Manifest list (not pushed)', () => composeLocalManifestList(exec, inputs, builder.name, built.builds, log));
      report.digest = local.digest;
      return await finish();
    }
    const index = await log.group('Manifest list', () => createManifestList(exec, inputs, builder.name, built.builds, registry, log));
    report.digest = index.digest;
    report.promoted = await log.group('Tag & promote', () => tagAndPromote(inputs, index.digest, built.builds, { log, registry }));
  } catch (err) {
    const message = errorMessage(err);
    report.stoppedBecause = message.split('\n')[0];
    // Nothing points at an untagged manifest list: the error names it, no output does.
    const digest = report.digest;
    delete report.digest;
    await finish();
    throw new PipelineError(digest ? `${message} (manifest list ${digest} was pushed untagged)` : message);
  }
  return finish();
}

/**
 * The run's connections: every process gets the run's DOCKER_CONFIG (when
 * registry-auth is given), and one registry client holds the credentials.
 */
function connect(inputs: Inputs, deps: PipelineDeps): { exec: Exec; registry: RegistryClient } {
  const runConfig = inputs.registryAuth.length ? writeDockerConfig(deps.tempDir, inputs.registryAuth) : undefined;
  for (const w of runConfig?.warnings ?? []) deps.log.warning(w);
  const env = runConfig?.env ?? {};
  const exec: Exec = (cmd, args, opts = {}) => deps.exec(cmd, args, { ...opts, env: { ...env, ...opts.env } });
  const registry = new RegistryClient({
    auths: [...inputs.registryAuth, ...readDockerConfigAuths()],
    mask: deps.mask,
    log: (m) => deps.log.info(m),
    ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}),
  });
  return { exec, registry };
}

function inlineBuildkitdConfig(inputs: Inputs, tempDir: string): string | undefined {
  if (inputs.buildkitdConfig) return inputs.buildkitdConfig;
  if (!inputs.buildkitdConfigInline) return undefined;
  const file = path.join(tempDir, 'buildkitd.toml');
  fs.writeFileSync(file, inputs.buildkitdConfigInline);
  return file;
}

const actionsLogger: Logger = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (name, fn) => core.group(name, fn),
};

/** The entry point: real inputs and real dependencies. */
export async function main(): Promise<void> {
  let inputs: Inputs;
  try {
    inputs = getInputs();
  } catch (err) {
    core.setFailed(errorMessage(err));
    return;
  }
  const base = process.env.RUNNER_TEMP || os.tmpdir();
  const tempDir = fs.mkdtempSync(path.join(base, 'multiarch-'));
  const deps: PipelineDeps = {
    exec: execCommand,
    log: actionsLogger,
    tempDir,
    hostArch: process.arch,
    readBinfmt: () => readBinfmtEntries(),
    builderName: `multiarch-${randomBytes(4).toString('hex')}`,
    ensureBuildx: () =>
      ensureBuildx(
        defaultInstallDeps(execCommand, (m) => core.info(m)),
        inputs.buildxVersion,
        inputs.buildxBaseUrl,
      ).then(() => undefined),
    ensureTrivy: () =>
      ensureTrivy(
        defaultTrivyInstallDeps(execCommand, (m) => core.info(m)),
        inputs.trivyVersion,
        inputs.trivyBaseUrl,
      ),
    setOutput: (n, v) => core.setOutput(n, v),
    writeSummary: async (md) => {
      if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(md, true).write();
    },
    saveState,
    mask: (s) => core.setSecret(s),
  };
  try {
    await runPipeline(inputs, deps);
  } catch (err) {
    core.setFailed(errorMessage(err));
  } finally {
    // Credentials never outlive the main step; post removes the rest.
    fs.rmSync(path.join(tempDir, 'docker-config'), { recursive: true, force: true });
  }
}
