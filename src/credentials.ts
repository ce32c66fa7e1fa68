// Registry credentials live in a DOCKER_CONFIG made for this run: buildx,
// imagetools and trivy all read it. The directory is deleted by main when it
// ends and again by the post step. Secrets are masked before anything runs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RegistryAuth } from './model.js';

/** Docker's config key for Docker Hub. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export function authKey(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io' ? DOCKER_HUB_KEY : registry;
}

export function authString(auth: RegistryAuth): string {
  return Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
}

/**
 * The config.json for the run: the user's own config (kept so earlier logins
 * and credential helpers still work) with our `auths` laid over it.
 */
export function dockerConfigJson(auths: readonly RegistryAuth[], existing?: string): string {
  let base: Record<string, unknown> = {};
  if (existing) {
    try {
      const parsed: unknown = JSON.parse(existing);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) base = parsed as Record<string, unknown>;
    } catch {
      base = {};
    }
  }
  const prior = typeof base.auths === 'object' && base.auths !== null ? (base.auths as Record<string, unknown>) : {};
  const merged: Record<string, unknown> = { ...prior };
  for (const a of auths) merged[authKey(a.registry)] = { auth: authString(a) };
  const out: Record<string, unknown> = { ...base, auths: merged };
  // A credential helper configured for one of our registries would be asked
  // instead of `auths` (docker, buildx and trivy all read it first): drop it.
  if (typeof base.credHelpers === 'object' && base.credHelpers !== null && !Array.isArray(base.credHelpers)) {
    const helpers: Record<string, unknown> = { ...(base.credHelpers as Record<string, unknown>) };
    for (const a of auths) {
      delete helpers[a.registry];
      delete helpers[authKey(a.registry)];
    }
    out.credHelpers = helpers;
  }
  // A credsStore is asked for every registry without a credHelper, before
  // `auths`, so it would hide our credentials too: the run goes without it.
  delete out.credsStore;
  return JSON.stringify(out, null, 2);
}

/** The user's credsStore, when their config names one (the run's config drops it). */
export function credsStoreOf(existing: string | undefined): string | undefined {
  if (!existing) return undefined;
  try {
    const v = (JSON.parse(existing) as { credsStore?: unknown }).credsStore;
    return typeof v === 'string' && v ? v : undefined;
  } catch {
    return undefined;
  }
}

export interface RunDockerConfig {
  /** Environment for every docker/buildx/trivy process of the run. */
  env: Record<string, string>;
  dir: string;
  /** Things the user should know about the run's config (e.g. a credsStore left out). */
  warnings: string[];
}

/**
 * Writes the run's DOCKER_CONFIG under `tempDir`. The docker CLI finds plugins
 * (buildx) and buildx finds builders under DOCKER_CONFIG, so the plugins folder
 * is linked back (whether or not it exists yet) and BUILDX_CONFIG pinned to
 * the user's own.
 */
export function writeDockerConfig(
  tempDir: string,
  auths: readonly RegistryAuth[],
  userDir: string,
  buildxConfig: string | undefined = undefined,
): RunDockerConfig {
  const dir = path.join(tempDir, 'docker-config');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const userConfig = path.join(userDir, 'config.json');
  const existing = fs.existsSync(userConfig) ? fs.readFileSync(userConfig, 'utf8') : undefined;
  fs.writeFileSync(path.join(dir, 'config.json'), dockerConfigJson(auths, existing), { mode: 0o600 });
  // Linked even when the user's plugins folder does not exist yet: buildx may
  // be installed there later in the run (buildx-version on a runner without
  // it), and the link then resolves. A dangling link is no plugin to docker.
  fs.symlinkSync(path.join(userDir, 'cli-plugins'), path.join(dir, 'cli-plugins'));
  const buildxDir = buildxConfig || path.join(userDir, 'buildx');
  const store = credsStoreOf(existing);
  const warnings = store
    ? [
        `your docker config's credsStore "${store}" is not used during this run (it would hide registry-auth); registries that need it belong in registry-auth`,
      ]
    : [];
  return { dir, env: { DOCKER_CONFIG: dir, BUILDX_CONFIG: buildxDir }, warnings };
}

/** The user's docker config directory: DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(env: Readonly<Record<string, string | undefined>>): string {
  return env.DOCKER_CONFIG || path.join(env.HOME || '/root', '.docker');
}

/**
 * Credentials already in a docker config (e.g. from docker/login-action), for
 * the registry client: `auths` entries with `auth` or username/password.
 * Credential helpers (credsStore) are not read.
 */
export function dockerConfigAuths(configJson: string): RegistryAuth[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(configJson);
  } catch {
    return [];
  }
  const auths = (parsed as { auths?: unknown })?.auths;
  if (typeof auths !== 'object' || auths === null) return [];
  const out: RegistryAuth[] = [];
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null) continue;
    const v = value as { auth?: unknown; username?: unknown; password?: unknown };
    let username = typeof v.username === 'string' ? v.username : '';
    let password = typeof v.password === 'string' ? v.password : '';
    if (typeof v.auth === 'string' && v.auth) {
      const decoded = Buffer.from(v.auth, 'base64').toString('utf8');
      const at = decoded.indexOf(':');
      if (at > 0) {
        username = decoded.slice(0, at);
        password = decoded.slice(at + 1);
      }
    }
    if (!username || !password) continue;
    const registry = key === DOCKER_HUB_KEY ? 'docker.io' : key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    out.push({ registry, username, password });
  }
  return out;
}

/** The user's docker config credentials, read from disk (empty when there are none). */
export function readDockerConfigAuths(userDir: string): RegistryAuth[] {
  const file = path.join(userDir, 'config.json');
  return fs.existsSync(file) ? dockerConfigAuths(fs.readFileSync(file, 'utf8')) : [];
}

/** The registry a workflow's GITHUB_TOKEN can push to (with `permissions: packages: write`). */
export const GITHUB_REGISTRY = 'ghcr.io';

/**
 * registry-auth plus ghcr.io credentials made from github-token, when the run
 * writes to ghcr.io and neither registry-auth nor the user's docker config
 * (e.g. docker/login-action) has any for it. The username is the actor, as
 * GitHub's docs log in with; ghcr.io checks only the token.
 */
export function withGithubToken(
  auths: readonly RegistryAuth[],
  existing: readonly RegistryAuth[],
  written: readonly string[],
  token: string,
  actor: string | undefined,
  mask: (secret: string) => void,
): RegistryAuth[] {
  const has = (list: readonly RegistryAuth[]): boolean => list.some((a) => a.registry === GITHUB_REGISTRY);
  if (token === '' || !written.includes(GITHUB_REGISTRY) || has(auths) || has(existing)) return [...auths];
  const auth = { registry: GITHUB_REGISTRY, username: actor || 'github-actions', password: token };
  mask(token);
  mask(authString(auth));
  return [...auths, auth];
}
