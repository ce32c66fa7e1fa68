// Generic value parsers shared by the input groups, and the reader that
// fetches one raw input (default applied) as a line, list, boolean or file.
// Pure: the runner and the filesystem come in through `get` and InputEnv.
import { formatReference, parseReference } from '../reference.js';
import type { ImageRef, Tristate } from '../model.js';
import { parseList, type ListOptions } from '../util/list.js';
import { DEFAULTS } from './defaults.js';
import { fail, tryOr } from './error.js';

export interface InputEnv {
  /** GITHUB_EVENT_NAME, e.g. `push` or `pull_request`. */
  eventName: string;
  exists(path: string): boolean;
  isDirectory(path: string): boolean;
  /** A file's text; when absent, files are checked for existence only. */
  readFile?(path: string): string;
  /** Reports an input that was adjusted or skipped (the runner's notice annotation). */
  notice?(message: string): void;
}

/** Quotes a value for an error message. */
export const q = (value: string): string => JSON.stringify(value);

const VERSION = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** Reads one input by its action.yml name; empty inputs take their DEFAULTS value. */
export interface InputReader {
  /** The trimmed value, or its default. */
  read(name: string): string;
  /** As read, but it must be a single line. */
  line(name: string): string;
  /** A CSV-aware list (see util/list.ts). */
  list(name: string, opts?: ListOptions): string[];
  bool(name: string): boolean;
  /** Fails `name` unless `p` is an existing file; `what` is appended to the path in the message. */
  file(name: string, p: string, what?: string): void;
}

export function inputReader(get: (name: string) => string, env: InputEnv): InputReader {
  const read = (name: string): string => (get(name) ?? '').trim() || (DEFAULTS[name] ?? '');
  const line = (name: string): string => {
    const value = read(name);
    if (/[\r\n]/.test(value)) fail(name, `${q(value)} must be a single line`);
    return value;
  };
  const list = (name: string, opts?: ListOptions): string[] => {
    try {
      return parseList(read(name), opts);
    } catch (err) {
      return fail(name, (err as Error).message);
    }
  };
  const bool = (name: string): boolean => parseBool(name, read(name));
  const file = (name: string, p: string, what = ''): void => {
    if (!env.exists(p)) fail(name, `${q(p)}${what} does not exist`);
    if (env.isDirectory(p)) fail(name, `${q(p)}${what} is a directory, not a file`);
  };
  return { read, line, list, bool, file };
}

/** YAML 1.2 core booleans, as core.getBooleanInput accepts them. */
export function parseBool(input: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  return fail(input, `${q(value)} is not a boolean (use true or false)`);
}

export function parseTristate(input: string, value: string): Tristate {
  if (['auto', 'Auto', 'AUTO'].includes(value)) return 'auto';
  if (['true', 'True', 'TRUE'].includes(value)) return 'true';
  if (['false', 'False', 'FALSE'].includes(value)) return 'false';
  return fail(input, `${q(value)} is not one of auto, true, false`);
}

/** `vX.Y.Z` or `X.Y.Z` (optionally with a pre-release), returned with the leading v. */
export function parseVersion(input: string, value: string, alternatives: string): string {
  if (!VERSION.test(value)) fail(input, `${q(value)} is not ${alternatives ? `${alternatives} ` : ''}a version like v1.2.3`);
  return value.startsWith('v') ? value : `v${value}`;
}

/**
 * A version that has a release to download: `vX.Y.Z` (a pre-release such as
 * `-rc1` too), or empty for "use what is installed". `latest` is refused: the
 * installer downloads `<base-url>/<version>/...` and has no way to resolve it.
 */
export function parseInstallableVersion(input: string, value: string): string {
  if (value === '') return '';
  if (value.toLowerCase() === 'latest') {
    fail(
      input,
      `"latest" cannot be installed (there is no release named latest); give a version like v0.36.1, or leave it empty to use the installed one`,
    );
  }
  return parseVersion(input, value, '');
}

/** An http(s) URL, returned without trailing slashes. */
export function parseHttpUrl(input: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    fail(input, `${q(value)} is not an http(s) URL`);
  }
  return value.replace(/\/+$/, '');
}

/** Splits at the first `=`; the value may itself contain `=`. */
export function splitPair(item: string): [string, string] {
  const eq = item.indexOf('=');
  return eq === -1 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)];
}

/** KEY=VALUE items: a key without whitespace, then `=`; the value may be empty. */
export function keyValues(input: string, items: string[]): string[] {
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0 || /\s/.test(item.slice(0, eq))) fail(input, `${q(item)} is not KEY=VALUE`);
  }
  return items;
}

/**
 * The reference with its repository path lower-cased (registries accept only
 * lower-case paths, while `github.repository` keeps the owner's capitals); the
 * registry host, tag and digest are kept as written. `notice` hears about a change.
 */
export function lowercaseRepository(input: string, value: string, notice?: (message: string) => void): string {
  const at = value.indexOf('@');
  const name = at === -1 ? value : value.slice(0, at);
  const digest = at === -1 ? '' : value.slice(at);
  const colon = name.lastIndexOf(':');
  const tagAt = colon > name.lastIndexOf('/') ? colon : name.length;
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const hostEnd = first.includes('.') || first.includes(':') || first === 'localhost' ? slash + 1 : 0;
  const path = name.slice(hostEnd, tagAt);
  if (path === path.toLowerCase()) return value;
  const lowered = `${name.slice(0, hostEnd)}${path.toLowerCase()}${name.slice(tagAt)}${digest}`;
  notice?.(`${input}: ${q(value)} has capitals in its repository path; using ${q(lowered)} (repository names are lower-case; tags keep their case)`);
  return lowered;
}

export function parseRef(input: string, value: string, what = 'image reference'): ImageRef {
  return tryOr(input, () => parseReference(value), `${q(value)} is not a valid ${what}: `);
}

/** An image pinned by a version tag (not latest) or a digest. */
export function parsePinnedImage(input: string, value: string): string {
  const ref = parseRef(input, value);
  if (ref.digest === undefined && (ref.tag === undefined || ref.tag === 'latest')) {
    fail(input, `${q(value)} is not pinned; give a version tag other than latest, or a digest`);
  }
  return formatReference(ref);
}
