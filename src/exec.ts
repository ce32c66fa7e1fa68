// The one exec seam: every docker, buildx, trivy (and any other) process the
// action starts goes through `Exec`. Failure is decided by the exit code alone;
// stderr only feeds the error message.
import * as actionsExec from '@actions/exec';

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

/** The real seam, backed by @actions/exec. */
export const execCommand: Exec = async (command, args, options = {}) => {
  const env = options.env ? mergedEnv(options.env) : undefined;
  const onLine = options.onLine;
  const result = await actionsExec.getExecOutput(command, [...args], {
    cwd: options.cwd,
    env,
    input: options.input === undefined ? undefined : Buffer.from(options.input),
    silent: options.silent === true || onLine !== undefined,
    ignoreReturnCode: true,
    listeners: onLine ? { stdline: onLine, errline: onLine } : undefined,
  });
  if (result.exitCode !== 0 && !options.allowFailure) {
    throw new CommandError(command, args, result.exitCode, result.stderr || result.stdout);
  }
  return result;
};

function mergedEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { ...env, ...extra };
}
