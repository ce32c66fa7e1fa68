// Registry authentication, the parts without network: challenge parsing,
// which host serves a registry, and whose credentials apply.
import type { RegistryAuth } from '../model.js';

export interface Challenge {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
  scope?: string;
}

/** Parses a WWW-Authenticate header (`Bearer realm="...",service="...",scope="..."`). */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = (m[1] ?? '').toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2] ?? ''); p; p = re.exec(m[2] ?? '')) {
    params[(p[1] ?? '').toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  const c: Challenge = { scheme };
  if (params.realm) c.realm = params.realm;
  if (params.service) c.service = params.service;
  if (params.scope) c.scope = params.scope;
  return c;
}

/** Loopback registries are spoken to over plain HTTP, every other over HTTPS (as docker does). */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The base URL of a registry's API. */
export function apiBase(registry: string): string {
  const host = registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
  return `${isLoopback(registry) ? 'http' : 'https'}://${host}`;
}

export function credentialsFor(registry: string, auths: readonly RegistryAuth[]): RegistryAuth | undefined {
  const alias = (r: string): string => (r === 'index.docker.io' || r === 'registry-1.docker.io' ? 'docker.io' : r);
  return auths.find((a) => alias(a.registry) === alias(registry));
}

export function basicHeader(auth: RegistryAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** Token URL for a bearer challenge, with every scope the operation needs. */
export function tokenUrl(c: Challenge, scopes: readonly string[]): string {
  if (!c.realm) throw new Error('bearer challenge without a realm');
  const url = new URL(c.realm);
  if (c.service) url.searchParams.set('service', c.service);
  for (const s of scopes) url.searchParams.append('scope', s);
  return url.toString();
}
