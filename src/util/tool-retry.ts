// Retrying a tool (trivy, buildx) whose run failed on a registry or the
// network: the exit code says it failed, then its error text says whether a
// second run can succeed. Pure classifiers over captured error texts, and one
// bounded loop that takes each retry from the run's retry budget.
import { sleepUnlessCancelled } from './cancel.js';
import { errorMessage } from './errors.js';

/**
 * At most this many runs of a tool for one platform. A scan or the manifest
 * list's dry run is many requests; at a 20% fault rate 3 runs ran out.
 */
export const TOOL_ATTEMPTS = 5;
/** The wait before the second run; doubled before each later one, up to 4 times this (2, 4, 8, 8 s). */
export const TOOL_BACKOFF_MS = 2000;

/** What a registry or the network says when a retry can help. */
const TRANSIENT =
  /\b(?:50[0-4]|429|408)\b|UNAVAILABLE|TOOMANYREQUESTS|Service Unavailable|Bad Gateway|Gateway Timeout|Too Many Requests|Internal Server Error|connection reset|connection refused|broken pipe|unexpected EOF|\bEOF\b|i\/o timeout|deadline exceeded|Client\.Timeout|TLS handshake timeout|server misbehaving|failed to do request|http2: server sent GOAWAY/i;
/** What no retry fixes: credentials, a missing image, a bad reference. */
const PERMANENT =
  /\b(?:40[0-7]|409|41\d)\b|UNAUTHORIZED|DENIED|FORBIDDEN|MANIFEST_UNKNOWN|NAME_UNKNOWN|BLOB_UNKNOWN|could not parse reference|invalid reference|no such host/i;

/** The line without its URLs, references and paths (a number in a repository name is no status). */
function bare(line: string): string {
  return line.replace(/"?\S*\/\S*/g, '_');
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The last line that reads as an error (trivy's FATAL line and what follows it, buildx's ERROR line). */
export function lastErrorLine(text: string): string {
  const all = lines(text);
  const i = findLastIndex(all, (l) => /\bFATAL\b|^ERROR:|\berror\b/i.test(l));
  if (i < 0) return all.at(-1) ?? '';
  // trivy lists the causes of "1 error occurred:" on the lines after its FATAL line, nested
  // ("* remote error: ...", "* OCI repository error: 1 error occurred:", "* Get ...: 503"):
  // the FATAL line and its causes are one error line.
  const fatal = findLastIndex(all, (l) => /\bFATAL\b/.test(l));
  if (fatal >= 0 && all.slice(fatal + 1).every((l) => l.startsWith('* '))) return all.slice(fatal).join(' ');
  const line = all[i] as string;
  const next = all[i + 1];
  return /\d+ errors? occurred:$/.test(line) && next ? `${line} ${next}` : line;
}

function findLastIndex<T>(xs: readonly T[], f: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i] as T)) return i;
  return -1;
}

/**
 * Whether a failed trivy scan (exit code non-zero) failed on a registry or the
 * network, so a second run can succeed: its error line names an HTTP 5xx/429,
 * a reset or a timeout, and nothing a retry cannot fix (an unknown image,
 * credentials, a bad reference, a missing DB, a usage error).
 */
export function trivyRetryable(stderr: string): boolean {
  const line = lastErrorLine(stderr);
  if (!/\bFATAL\b/.test(line) && !/remote error/.test(line)) return false;
  // Another trivy (another run on this runner) holds the scan cache's lock: it lets go when done.
  if (/cache may be in use by another process/.test(line)) return true;
  return TRANSIENT.test(bare(line)) && !PERMANENT.test(bare(line));
}

/**
 * Whether a failed `buildx build` (exit code non-zero) failed in pushing or
 * on a registry, not in the build itself: the final ERROR line names the push
 * or export, or an HTTP status or connection error. A failing RUN step
 * ("did not complete successfully") is never retried.
 */
export function buildPushRetryable(output: string): boolean {
  const final = finalErrorLine(output);
  if (final === undefined) return false;
  const line = bare(final);
  if (/did not complete successfully|failed to compute cache key|dockerfile parse error|failed to read dockerfile/i.test(line)) return false;
  if (PERMANENT.test(line)) return false;
  return /failed to push|exporting to image|failed to export/i.test(line) || TRANSIENT.test(line);
}

/**
 * Whether the manifest list's dry run (`imagetools create --dry-run`, which
 * only reads the platforms' manifests) is worth running again: as a build's
 * push, or when buildx says one of `sources` is "not found". Each source is a
 * digest this run has just pushed and read back, so that is a read that
 * failed on the registry (buildx reports some failed reads so), not a
 * missing image.
 */
export function composeRetryable(output: string, sources: readonly string[]): boolean {
  if (buildPushRetryable(output)) return true;
  const final = finalErrorLine(output);
  return final !== undefined && sources.some((s) => final.includes(`${s}: not found`));
}

/** buildx's final `ERROR:` line, if it printed one. */
function finalErrorLine(output: string): string | undefined {
  const all = lines(output);
  return all[findLastIndex(all, (l) => /^ERROR:/.test(l))];
}

/**
 * Whether a failed `docker pull` is worth pulling again from the same
 * registry: a 5xx, a reset or a timeout. A rate limit (429, toomanyrequests)
 * is not: it lasts longer than any back-off here, so the next mirror is tried.
 */
export function pullRetryable(stderr: string): boolean {
  const line = bare(lastErrorLine(stderr));
  if (/toomanyrequests|too many requests|\b429\b|rate limit/i.test(line)) return false;
  return TRANSIENT.test(line) && !PERMANENT.test(line);
}

export interface ToolRetryOptions {
  /** Names the work in the log line: `linux/arm64: scan`. */
  what: string;
  /** Whether this failure is one a second run can fix. */
  retryable(err: unknown): boolean;
  /** The line that says why (shown in the retry message). */
  why(err: unknown): string;
  /** The run's retry budget, shared with the registry client. */
  budget?: { take(): boolean } | undefined;
  log(message: string): void;
  signal?: AbortSignal | undefined;
  attempts?: number;
  backoffMs?: number;
}

/** Runs `attempt` up to `attempts` times while its failures are retryable and the budget lasts. */
export async function retryTool<T>(attempt: (n: number) => Promise<T>, o: ToolRetryOptions): Promise<T> {
  const attempts = o.attempts ?? TOOL_ATTEMPTS;
  const first = o.backoffMs ?? TOOL_BACKOFF_MS;
  let wait = first;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= attempts || o.signal?.aborted || !o.retryable(err)) throw err;
      if (o.budget && !o.budget.take()) {
        o.log(`${o.what} attempt ${n} failed (${o.why(err)}); the run's retry budget is spent, not retrying`);
        throw err;
      }
      o.log(`${o.what} attempt ${n} failed (${o.why(err)}), retrying in ${wait / 1000} s`);
      await sleepUnlessCancelled(wait, o.signal, `${o.what} retry`);
      wait = Math.min(wait * 2, first * 4);
    }
  }
}

/** The error's last error line, for retry messages. */
export function whyLine(err: unknown): string {
  return lastErrorLine(err instanceof ToolFailure ? err.output : errorMessage(err));
}

/** A tool run that failed by exit code, with its output for the classifiers. */
export class ToolFailure extends Error {
  constructor(
    message: string,
    readonly output: string,
    /** Which run of the tool failed (`scan`, `SARIF conversion`, `build`). */
    readonly step = '',
  ) {
    super(message);
    this.name = 'ToolFailure';
  }
}
