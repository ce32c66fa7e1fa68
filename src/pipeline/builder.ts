// Builder phase: install buildx when asked, then create (or find) the builder.
// It runs before QEMU: the builder's nodes decide what is native.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureBuilder, type EnsuredBuilder } from '../buildx/builder.js';
import type { Exec } from '../exec.js';
import type { Inputs } from '../model.js';
import type { Runtime } from './runtime.js';

export type BuilderPhaseInputs = Pick<
  Inputs,
  'builder' | 'driver' | 'driverOpts' | 'endpoint' | 'buildkitdConfig' | 'buildkitdConfigInline' | 'nodes' | 'buildxVersion'
>;

/**
 * Creates or finds the builder; `onCreated` is told its name before anything
 * can fail after creation. A buildx to install (`buildx-version`) comes
 * first; without one, checking the installed buildx runs beside the builder's
 * set-up (both are docker buildx calls), and a failed check is the error.
 */
export async function setupBuilder(
  exec: Exec,
  inputs: BuilderPhaseInputs,
  rt: Pick<Runtime, 'tempDir' | 'builderName' | 'ensureBuildx' | 'log'>,
  onCreated: (name: string) => void,
): Promise<EnsuredBuilder> {
  if (inputs.buildxVersion) await rt.ensureBuildx();
  const configFile = inlineBuildkitdConfig(inputs, rt.tempDir);
  const [check, builder] = await Promise.allSettled([
    inputs.buildxVersion ? Promise.resolve() : rt.ensureBuildx(),
    ensureBuilder(exec, inputs, { name: rt.builderName, ...(configFile ? { configFile } : {}) }),
  ]);
  if (builder.status === 'fulfilled' && builder.value.created) onCreated(builder.value.name);
  if (check.status === 'rejected') throw check.reason;
  if (builder.status === 'rejected') throw builder.reason;
  const b = builder.value;
  rt.log.info(`${b.created ? 'created' : 'using'} builder ${b.name} (${b.info.driver})`);
  return b;
}

function inlineBuildkitdConfig(inputs: BuilderPhaseInputs, tempDir: string): string | undefined {
  if (inputs.buildkitdConfig) return inputs.buildkitdConfig;
  if (!inputs.buildkitdConfigInline) return undefined;
  const file = path.join(tempDir, 'buildkitd.toml');
  fs.writeFileSync(file, inputs.buildkitdConfigInline);
  return file;
}
