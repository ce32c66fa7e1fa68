// An ordered mirror list: each source is tried in turn until one serves; a
// failure falls back to the next. The caller learns which one served (to say
// so in the log and the summary) and why the ones before it failed.
import { errorMessage } from './errors.js';

export interface MirrorFailure {
  source: string;
  message: string;
}

export interface Served<T> {
  value: T;
  /** The source that served. */
  source: string;
  /** Sources tried before it, with why each failed. */
  failed: MirrorFailure[];
}

export interface MirrorOptions {
  /** What is being fetched, for messages: `the trivy vulnerability DB`. */
  what: string;
  /** How a source is named in messages (e.g. the empty source as "trivy's default"). */
  label?: (source: string) => string;
  /** Told of each fallback. */
  onFallback?: (message: string) => void;
}

/** Thrown when every source failed; the message lists each with its error. */
export class MirrorsFailedError extends Error {
  constructor(
    readonly what: string,
    readonly failures: readonly MirrorFailure[],
    label: (source: string) => string,
  ) {
    super(mirrorsFailedMessage(what, failures, label));
    this.name = 'MirrorsFailedError';
  }
}

export function mirrorsFailedMessage(what: string, failures: readonly MirrorFailure[], label: (source: string) => string): string {
  if (failures.length === 1) {
    const f = failures[0] as MirrorFailure;
    return `could not get ${what} from ${label(f.source)}: ${f.message}`;
  }
  const lines = failures.map((f, i) => `${i + 1}. ${label(f.source)}: ${f.message.split('\n').join('\n   ')}`);
  return `could not get ${what} from any of ${failures.length} sources, tried in order:\n${lines.join('\n')}`;
}

/**
 * Runs `attempt` on each source in order until one resolves, and returns its
 * value and source. Throws a MirrorsFailedError naming every source when none
 * does. An empty list is a programming error.
 */
export async function firstThatServes<T>(
  sources: readonly string[],
  attempt: (source: string) => Promise<T>,
  opts: MirrorOptions,
): Promise<Served<T>> {
  if (sources.length === 0) throw new Error(`no source given for ${opts.what}`);
  const label = opts.label ?? ((s: string) => s);
  const failed: MirrorFailure[] = [];
  for (const [i, source] of sources.entries()) {
    try {
      const value = await attempt(source);
      return { value, source, failed };
    } catch (err) {
      const message = errorMessage(err);
      failed.push({ source, message });
      const next = sources[i + 1];
      if (next !== undefined) {
        opts.onFallback?.(`${label(source)} did not serve ${opts.what} (${lastLine(message)}); trying ${label(next)}`);
      }
    }
  }
  throw new MirrorsFailedError(opts.what, failed, label);
}

/** The last non-empty line: for a tool's failure, usually the one that says why. */
function lastLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .pop() ?? ''
  );
}
