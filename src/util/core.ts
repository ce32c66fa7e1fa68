// The runner commands the action uses (inputs, outputs, state, log, masks,
// groups, failure, the job summary), written out in the runner's documented
// formats instead of loading @actions/core: that package loads
// @actions/http-client and undici (for OIDC tokens we never ask for) on every
// run, about a third of the bundle's start-up time.
// Formats: https://docs.github.com/actions/reference/workflow-commands-for-github-actions
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';

/** A command's data: `%`, CR and LF escaped, as the runner unescapes them. */
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function issue(command: string, message: string): void {
  process.stdout.write(`::${command}::${escapeData(message)}${os.EOL}`);
}

/** `name<<delimiter` blocks appended to a file command (GITHUB_OUTPUT, GITHUB_STATE). */
function fileCommand(variable: string, key: string, value: string): boolean {
  const file = process.env[variable];
  if (!file) return false;
  if (!fs.existsSync(file)) throw new Error(`Missing file at path: ${file}`);
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (key.includes(delimiter) || value.includes(delimiter)) throw new Error(`Unexpected input: it contains the delimiter "${delimiter}"`);
  fs.appendFileSync(file, `${key}<<${delimiter}${os.EOL}${value}${os.EOL}${delimiter}${os.EOL}`, { encoding: 'utf8' });
  return true;
}

/** `INPUT_<NAME>` (spaces as underscores, upper case), trimmed; empty when unset. */
export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

export function setOutput(name: string, value: string): void {
  if (!fileCommand('GITHUB_OUTPUT', name, value)) {
    process.stdout.write(os.EOL);
    process.stdout.write(`::set-output name=${name}::${escapeData(value)}${os.EOL}`);
  }
}

export function saveState(name: string, value: string): void {
  if (!fileCommand('GITHUB_STATE', name, value)) issue(`save-state name=${name}`, value);
}

export function getState(name: string): string {
  return process.env[`STATE_${name}`] ?? '';
}

export function setSecret(secret: string): void {
  issue('add-mask', secret);
}

export function info(message: string): void {
  process.stdout.write(message + os.EOL);
}

export function debug(message: string): void {
  issue('debug', message);
}

export function notice(message: string): void {
  issue('notice', message);
}

export function warning(message: string): void {
  issue('warning', message);
}

/** Logs the error and makes the step fail when the process exits. */
export function setFailed(message: string): void {
  process.exitCode = 1;
  issue('error', message);
}

export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  issue('group', name);
  try {
    return await fn();
  } finally {
    issue('endgroup', '');
  }
}

/** Appends markdown (and a newline) to the job summary file, when the runner gives one. */
export function appendSummary(markdown: string): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (file) fs.appendFileSync(file, markdown + os.EOL, { encoding: 'utf8' });
}
