// What the post step needs to clean up, saved once by main and read by post.
// Small and typed; never holds a secret (the DOCKER_CONFIG directory path is
// saved so post can delete it, not its contents).
import * as core from './util/core.js';

export interface PostState {
  /** A builder this run created (never one the user named). */
  builder?: string;
  /** Temporary directory of this run: metadata files, DOCKER_CONFIG, reports. */
  tempDir?: string;
}

const KEY = 'multiarch-state';

export function saveState(state: PostState): void {
  core.saveState(KEY, JSON.stringify(state));
}

export function parseState(raw: string): PostState {
  if (!raw) return {};
  const value: unknown = JSON.parse(raw);
  if (typeof value !== 'object' || value === null) return {};
  const out: PostState = {};
  const rec = value as Record<string, unknown>;
  if (typeof rec.builder === 'string' && rec.builder) out.builder = rec.builder;
  if (typeof rec.tempDir === 'string' && rec.tempDir) out.tempDir = rec.tempDir;
  return out;
}

export function loadState(): PostState {
  return parseState(core.getState(KEY));
}
