// A runner-like harness: runs the bundled dist/ the way the GitHub runner does
// (inputs as INPUT_* variables, GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY),
// then the post step with the saved state, and returns everything it wrote.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export interface ActionRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /**
   * stdout + stderr of main and post as the runner would log them, for "never
   * in a log" checks: `::add-mask::` commands are consumed by the runner and
   * never shown, so they are dropped (nothing else is masked here).
   */
  log: string;
  outputs: Record<string, string>;
  summary: string;
  state: Record<string, string>;
  post: { exitCode: number; stdout: string; stderr: string };
  seconds: number;
  workDir: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  eventName?: string;
  /** Skip the post step (to inspect what main left behind). */
  skipPost?: boolean;
  debug?: boolean;
}

/** Parses the GITHUB_OUTPUT / GITHUB_STATE file format (`name<<DELIM` blocks and `name=value` lines). */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i] ?? '');
      out[name as string] = value.join('\n');
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}

function inputEnv(inputs: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return env;
}

export function runAction(inputs: Record<string, string>, opts: RunOptions = {}): ActionRun {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'action-run-'));
  const files = {
    GITHUB_OUTPUT: path.join(workDir, 'output'),
    GITHUB_STATE: path.join(workDir, 'state'),
    GITHUB_STEP_SUMMARY: path.join(workDir, 'summary.md'),
    GITHUB_ENV: path.join(workDir, 'env'),
    GITHUB_PATH: path.join(workDir, 'path'),
  };
  for (const f of Object.values(files)) fs.writeFileSync(f, '');
  const runnerTemp = path.join(workDir, 'runner-temp');
  fs.mkdirSync(runnerTemp);
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('INPUT_')) base[k] = v;
  const env = {
    ...base,
    ...files,
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: path.join(workDir, 'tool-cache'),
    GITHUB_EVENT_NAME: opts.eventName ?? 'push',
    GITHUB_WORKSPACE: opts.cwd ?? ROOT,
    ...(opts.debug ? { RUNNER_DEBUG: '1' } : {}),
    ...inputEnv(inputs),
    ...opts.env,
  };
  const started = Date.now();
  const main = spawnSync(process.execPath, [path.join(ROOT, 'dist/main/index.js')], {
    cwd: opts.cwd ?? ROOT,
    env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const seconds = (Date.now() - started) / 1000;
  const state = parseCommandFile(fs.readFileSync(files.GITHUB_STATE, 'utf8'));
  let post = { exitCode: 0, stdout: '', stderr: '' };
  if (!opts.skipPost) {
    const stateEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(state)) stateEnv[`STATE_${k}`] = v;
    const p = spawnSync(process.execPath, [path.join(ROOT, 'dist/post/index.js')], {
      cwd: opts.cwd ?? ROOT,
      env: { ...env, ...stateEnv },
      encoding: 'utf8',
    });
    post = { exitCode: p.status ?? -1, stdout: p.stdout, stderr: p.stderr };
  }
  return {
    exitCode: main.status ?? -1,
    stdout: main.stdout,
    stderr: main.stderr,
    log: [main.stdout, main.stderr, post.stdout, post.stderr]
      .join('\n')
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n'),
    outputs: parseCommandFile(fs.readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    summary: fs.readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    state,
    post,
    seconds,
    workDir,
  };
}

/** The error line(s) the action printed with core.setFailed (`::error::...`). */
export function errorLines(run: ActionRun): string[] {
  return run.stdout.split('\n').filter((l) => l.startsWith('::error::')).map((l) => l.slice('::error::'.length));
}
