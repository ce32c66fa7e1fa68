// When a registry request is worth another try, and how long to wait first.
// Pure: the client feeds it what happened and sleeps for what it says.

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  attempts: number;
  /** First back-off, doubled each retry. */
  baseMs: number;
  /** No single wait is longer than this (a Retry-After above it is capped). */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 500, maxMs: 30_000 };

/** Retries one run may spend in all, over every request (the client's RetryBudget). */
export const DEFAULT_RETRY_BUDGET = 100;

/** Seconds without a byte flowing before a request is aborted as stalled (input registry-timeout). */
export const DEFAULT_TIMEOUT_SECONDS = 60;

/**
 * What one attempt ended with: an HTTP status (with Retry-After), a network
 * error code, or a stall (no bytes for `seconds`, in `request`).
 */
export type Outcome =
  { status: number; retryAfter?: string | null; code?: string | undefined } | { networkError: string } | { stalled: number; request: string };

/**
 * Network errors that are worth another try: resets (node:http says
 * ECONNRESET for a connection closed after the response head or in the middle
 * of a body), refused while restarting, timeouts, a streamed request body
 * that ended short of its length (src/registry/http.ts), and the same cases
 * as undici names them, for a client handed `fetch` (`terminated`, `other
 * side closed`, UND_ERR_SOCKET, UND_ERR_*_CONTENT_LENGTH_MISMATCH).
 */
const TRANSIENT_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
  'EAI_AGAIN',
  'terminated',
  'other side closed',
]);

/**
 * A manifest PUT answered MANIFEST_BLOB_UNKNOWN for a blob that was there:
 * while another client commits the same blob into the same repository, a
 * registry can miss it for a moment (distribution rewrites the blob's link
 * file in place; object-store registries are eventually consistent). Seen
 * with two runs promoting to one repository at once.
 */
const TRANSIENT_CODES = new Set(['MANIFEST_BLOB_UNKNOWN']);

export function isTransient(o: Outcome): boolean {
  if ('stalled' in o) return true;
  if ('networkError' in o) return TRANSIENT_NETWORK.has(o.networkError);
  if (o.status === 400) return o.code !== undefined && TRANSIENT_CODES.has(o.code);
  return o.status === 429 || o.status === 408 || (o.status >= 500 && o.status !== 501 && o.status !== 505);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date, relative to `now`. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Anything else number-like ("1.5", "-1") is invalid, not a date (Date.parse would read it as one).
  if (/^[-+.\d\s]+$/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * How long to wait before attempt `attempt + 1` (attempt counts from 1), or
 * undefined when there is no retry: the outcome is final or attempts ran out.
 * An attempt of `requests` requests (an upload: source GET, POST, PUT) gets
 * the policy's attempts for each of them, its back-off growing once per
 * round: each request can fail as often as a request on its own.
 */
export function nextDelay(o: Outcome, attempt: number, policy: RetryPolicy, now = Date.now(), requests = 1): number | undefined {
  if (!isTransient(o) || attempt >= policy.attempts * requests) return undefined;
  const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** (Math.ceil(attempt / requests) - 1));
  if ('status' in o && o.status === 429) {
    const asked = parseRetryAfter(o.retryAfter, now);
    if (asked !== undefined) return Math.min(policy.maxMs, asked);
  }
  return backoff;
}

/**
 * The run-wide bound on retries: every retry of every request takes one; once
 * spent, a failing request fails at once. With the per-request policy this
 * bounds a run's time in a bad registry: each request at most `attempts`
 * tries of at most `registry-timeout` seconds each, the run at most `limit` retries.
 */
export class RetryBudget {
  used = 0;
  constructor(readonly limit = DEFAULT_RETRY_BUDGET) {}

  /** Takes one retry; false when none is left. */
  take(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
}

/** The message for a request that failed for good. */
export function failureMessage(what: string, registry: string, o: Outcome, attempts: number): string {
  if ('stalled' in o) {
    return `${what}: ${o.request} on ${registry} stalled for ${o.stalled} s (no bytes within registry-timeout) after ${attempts} attempt(s)`;
  }
  if ('networkError' in o) return `${what}: ${registry} could not be reached (${o.networkError}) after ${attempts} attempt(s)`;
  if (o.status === 429) {
    return `${what}: ${registry} rate-limited the requests (HTTP 429) after ${attempts} attempt(s); log in to raise the limit (registry-auth) or use a mirror`;
  }
  if (o.status === 401 || o.status === 403) {
    return `${what}: ${registry} refused the credentials (HTTP ${o.status}); check registry-auth for ${registry}`;
  }
  return `${what}: ${registry} answered HTTP ${o.status}${o.code ? ` (${o.code})` : ''}${attempts > 1 ? ` after ${attempts} attempts` : ''}`;
}

/** Short form of an outcome for the retry log line. */
export function describeOutcome(o: Outcome): string {
  if ('stalled' in o) return `${o.request} stalled for ${o.stalled} s`;
  if ('networkError' in o) return o.networkError;
  return `HTTP ${o.status}${o.code ? ` (${o.code})` : ''}`;
}
