// Every action input, read once and validated into one typed `Inputs`.
// parseInputs is pure given its callbacks; getInputs wires it to the runner.
// Each error is one line that starts with the input's action.yml name. Groups
// and the inputs within them are checked in a fixed order: the first invalid
// one is the one reported.
import * as fs from 'node:fs';
import * as core from './util/core.js';
import { parseSecrets } from './buildx/build.js';
import { parseBuildInputs } from './inputs/build.js';
import { parseBuilderInputs } from './inputs/builder.js';
import { parseImageInputs } from './inputs/image.js';
import { parseModeInputs } from './inputs/mode.js';
import { parsePromoteInputs } from './inputs/promote.js';
import { parseQemuInputs } from './inputs/qemu.js';
import { parseScanInputs } from './inputs/scan.js';
import { inputReader, type InputEnv } from './inputs/values.js';
import type { Inputs } from './model.js';

export { DEFAULTS, LOCAL_IMAGE } from './inputs/defaults.js';
export { InputError } from './inputs/error.js';
export type { InputEnv } from './inputs/values.js';

/** Reads the runner's inputs, validates them, and masks registry passwords and build secret values. */
export function getInputs(env: Readonly<Record<string, string | undefined>>): Inputs {
  const inputs = parseInputs((name) => core.getInput(name), {
    eventName: env.GITHUB_EVENT_NAME ?? '',
    exists: (p) => fs.existsSync(p),
    isDirectory: (p) => {
      try {
        return fs.statSync(p).isDirectory();
      } catch {
        return false;
      }
    },
    readFile: (p) => fs.readFileSync(p, 'utf8'),
    notice: (m) => core.notice(m),
  });
  for (const auth of inputs.registryAuth) {
    core.setSecret(auth.password);
    // The docker config and basic auth headers carry base64(user:password).
    core.setSecret(Buffer.from(`${auth.username}:${auth.password}`).toString('base64'));
  }
  for (const { value } of parseSecrets(inputs.secrets)) {
    // The runner masks a multi-line secret only as a whole: mask each line too.
    for (const part of new Set([value, ...value.split(/\r?\n/)])) if (part.trim()) core.setSecret(part);
  }
  return inputs;
}

/** Parses every input; throws an InputError for the first invalid one. */
export function parseInputs(get: (name: string) => string, env: InputEnv): Inputs {
  const r = inputReader(get, env);
  const build = parseBuildInputs(r, env);
  const destination = parseImageInputs(r, env.eventName, env.notice);
  const qemu = parseQemuInputs(r);
  const builder = parseBuilderInputs(r, build.platforms);
  const scan = parseScanInputs(r, env);
  const promote = parsePromoteInputs(r, { ...destination, platforms: build.platforms }, env);
  const distribute = parseModeInputs(r, build.platforms);
  return { ...build, ...destination, ...qemu, ...builder, ...scan, ...promote, ...distribute };
}
