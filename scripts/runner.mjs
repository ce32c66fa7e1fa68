// A runner-like harness for the bundled action: runs dist/main the way the
// GitHub runner does (inputs as INPUT_* variables, GITHUB_OUTPUT, GITHUB_STATE,
// GITHUB_STEP_SUMMARY), then dist/post with the saved state when action.yml's
// post-if says the runner would, and returns what it wrote. Used by the e2e suite (e2e/harness.ts) and by `make demo`.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Parses the GITHUB_OUTPUT / GITHUB_STATE file format (`name<<DELIM` blocks and `name=value` lines). */
export function parseCommandFile(text) {
  const out = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]);
      out[name] = value.join('\n');
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}

function inputEnv(inputs) {
  const env = {};
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return env;
}

function prepare(inputs, opts) {
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
  const base = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('INPUT_')) base[k] = v;
  const cwd = opts.cwd ?? ROOT;
  const env = {
    ...base,
    ...files,
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: path.join(workDir, 'tool-cache'),
    GITHUB_EVENT_NAME: opts.eventName ?? 'push',
    GITHUB_WORKSPACE: cwd,
    ...(opts.debug ? { RUNNER_DEBUG: '1' } : {}),
    ...inputEnv(inputs),
    ...opts.env,
  };
  return { workDir, files, cwd, env };
}

/**
 * Whether the runner starts the post step: action.yml's `post-if` (default
 * `always()`) read as the runner reads it after main, for the status
 * functions joined by `||` and `&&` (`!` allowed). Anything else throws, so a
 * new condition is taught here rather than guessed.
 */
export function postRuns(expression, status) {
  const value = {
    'always()': true,
    'success()': !status.failed && !status.cancelled,
    'failure()': status.failed && !status.cancelled,
    'cancelled()': status.cancelled,
  };
  const term = (t) => {
    const negated = t.startsWith('!');
    const name = (negated ? t.slice(1) : t).trim();
    if (!(name in value)) throw new Error(`runner.mjs: post-if term ${JSON.stringify(t)} is not understood`);
    return negated ? !value[name] : value[name];
  };
  return expression.split('||').some((any) => any.split('&&').every((all) => term(all.trim())));
}

function actionPostIf() {
  const m = /^ {2}post-if:\s*(.+?)\s*$/m.exec(fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8'));
  return m ? m[1].replace(/^'(.*)'$/, '$1') : 'always()';
}

/**
 * Runs post (when action.yml's post-if says the runner would: after a failed
 * or a cancelled main; `opts.skipPost` never, `opts.forcePost` always) with
 * main's saved state, and gathers what the run wrote.
 */
function finishRun(ctx, opts, main, seconds, extra = {}) {
  const { files, cwd, env, workDir } = ctx;
  const stdio = opts.inheritOutput ? ['ignore', 'inherit', 'inherit'] : 'pipe';
  const state = parseCommandFile(fs.readFileSync(files.GITHUB_STATE, 'utf8'));
  let post = { ran: false, exitCode: 0, stdout: '', stderr: '' };
  const status = { failed: (main.status ?? -1) !== 0, cancelled: extra.signalledAt !== undefined };
  if (!opts.skipPost && (opts.forcePost || postRuns(actionPostIf(), status))) {
    const stateEnv = {};
    for (const [k, v] of Object.entries(state)) stateEnv[`STATE_${k}`] = v;
    const p = spawnSync(process.execPath, [path.join(ROOT, 'dist/post/index.js')], { cwd, env: { ...env, ...stateEnv }, encoding: 'utf8', stdio });
    post = { ran: true, exitCode: p.status ?? -1, stdout: p.stdout ?? '', stderr: p.stderr ?? '' };
  }
  const mainOut = main.stdout ?? '';
  const mainErr = main.stderr ?? '';
  return {
    exitCode: main.status ?? -1,
    stdout: mainOut,
    stderr: mainErr,
    // As the runner would log it: `::add-mask::` commands are consumed by the
    // runner and never shown, so they are dropped (nothing else is masked).
    log: [mainOut, mainErr, post.stdout, post.stderr]
      .join('\n')
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n'),
    outputs: parseCommandFile(fs.readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    summary: fs.readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    summaryFile: files.GITHUB_STEP_SUMMARY,
    state,
    post,
    seconds,
    workDir,
    ...extra,
  };
}

export function runAction(inputs, opts = {}) {
  const ctx = prepare(inputs, opts);
  const stdio = opts.inheritOutput ? ['ignore', 'inherit', 'inherit'] : 'pipe';
  const started = Date.now();
  const main = spawnSync(process.execPath, [path.join(ROOT, 'dist/main/index.js')], {
    cwd: ctx.cwd,
    env: ctx.env,
    encoding: 'utf8',
    stdio,
    maxBuffer: 256 * 1024 * 1024,
  });
  return finishRun(ctx, opts, main, (Date.now() - started) / 1000);
}

/**
 * Like runAction, but main runs in the background: as soon as a line of its
 * output matches `opts.signalWhen`, main is sent `opts.signal` (SIGTERM by
 * default, as the runner does on cancel); then post runs as the runner's does.
 * The result also says whether and when the signal was sent.
 */
export function runActionAsync(inputs, opts = {}) {
  const ctx = prepare(inputs, opts);
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/main/index.js')], { cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalledAt;
  const check = () => {
    if (signalledAt === undefined && opts.signalWhen && new RegExp(opts.signalWhen, 'm').test(stdout)) {
      signalledAt = (Date.now() - started) / 1000;
      child.kill(opts.signal ?? 'SIGTERM');
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d) => {
    stdout += d;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    child.on('close', (code, sig) => {
      const main = { status: code ?? (sig ? 128 : -1), stdout, stderr };
      resolve(finishRun(ctx, opts, main, (Date.now() - started) / 1000, { signalledAt }));
    });
  });
}

/** The error line(s) the action printed with core.setFailed (`::error::...`). */
export function errorLines(run) {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length));
}
