// The one exec seam: every docker, buildx, trivy (and any other) process the
// action starts goes through `Exec`. Failure is decided by the exit code alone;
// stderr only feeds the error message.
import { spawn } from 'node:child_process';
import { CancelledError } from './util/cancel.js';

export interface ExecOptions {
  cwd?: string;
  /** Merged over process.env (not a replacement for it). */
  env?: Record<string, string>;
  /** Written to the process's standard input (e.g. a password for --password-stdin). */
  input?: string;
  /**
   * Called with every output line (stdout and stderr) as it arrives, instead
   * of echoing it to the log. Used to prefix and group per-platform logs.
   */
  onLine?: (line: string) => void;
  /** Do not echo the command or its output to the log. */
  silent?: boolean;
  /** Return a non-zero result instead of throwing. */
  allowFailure?: boolean;
  /** When it aborts, the process is sent SIGTERM (SIGKILL 5 s later) and the call fails as cancelled. */
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type Exec = (command: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/** How many trailing stderr lines an error message carries. */
const TAIL_LINES = 20;

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(CommandError.describe(command, args, exitCode, stderr));
    this.name = 'CommandError';
  }

  static describe(command: string, args: readonly string[], exitCode: number, stderr: string): string {
    const tail = lastLines(stderr, TAIL_LINES);
    const head = `${[command, ...args.slice(0, 3)].join(' ')}${args.length > 3 ? ' ...' : ''} exited with code ${exitCode}`;
    return tail ? `${head}:\n${tail}` : head;
  }
}

export function lastLines(text: string, count: number): string {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  return lines.slice(-count).join('\n');
}

/** How long a cancelled process gets between SIGTERM and SIGKILL. */
const KILL_AFTER_MS = 5000;

/**
 * The real seam: spawns the process (no shell), echoes `[command]...` and its
 * output as @actions/exec does unless silent or fed to onLine, and on
 * `signal` sends it SIGTERM (SIGKILL after 5 s) and fails as cancelled.
 */
export const execCommand: Exec = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const { signal, onLine } = options;
    if (signal?.aborted) return reject(new CancelledError(`${command} was not started`));
    const quiet = options.silent === true || onLine !== undefined;
    if (!options.silent) process.stdout.write(`[command]${[command, ...args].join(' ')}\n`);
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: childEnv(process.env, options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const lines = { out: '', err: '' };
    const feed = (which: 'out' | 'err', chunk: string, flush = false): void => {
      if (!onLine) return;
      lines[which] += chunk;
      const parts = lines[which].split(/\r?\n/);
      lines[which] = flush ? '' : (parts.pop() ?? '');
      for (const l of parts) if (!flush || l !== '') onLine(l);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!quiet) process.stdout.write(d);
      feed('out', d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (!quiet) process.stderr.write(d);
      feed('err', d);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      feed('out', '', true);
      feed('err', '', true);
      if (signal?.aborted) return reject(new CancelledError(`${command} ${args.slice(0, 2).join(' ')} was stopped`));
      const exitCode = code ?? (sig ? 128 : 1);
      if (exitCode !== 0 && !options.allowFailure) return reject(new CommandError(command, args, exitCode, stderr || stdout));
      resolve({ exitCode, stdout, stderr });
    });
  });
/**
 * What a tool's environment is: this process's without the runner's `INPUT_*`
 * variables (the action's inputs, `registry-auth` and `secrets` among them: no
 * tool reads them, so none gets a copy to print or pass on), `extra` over it.
 */
export function childEnv(base: Readonly<Record<string, string | undefined>>, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !/^INPUT_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}
