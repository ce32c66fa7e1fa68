// Image references per the distribution reference grammar
// (github.com/distribution/reference, regexp.go) with docker's normalisation:
// no registry means docker.io, and single-component docker.io repositories
// live under library/.
import type { ImageRef } from './model.js';

export const DEFAULT_REGISTRY = 'docker.io';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
const NAME_TOTAL_LENGTH_MAX = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
/** Registered algorithms have a fixed, lower-case hex length. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export function isValidTag(s: string): boolean {
  return TAG_RE.test(s);
}

export function isValidDigest(s: string): boolean {
  if (!DIGEST_RE.test(s)) return false;
  const [algorithm = '', hex = ''] = s.split(':');
  const length = DIGEST_HEX_LENGTH[algorithm];
  return length === undefined || (hex.length === length && /^[a-f0-9]+$/.test(hex));
}

/** True for `host[:port]` as a registry: a domain name, IPv4 or [IPv6], with optional port. */
export function isValidRegistry(s: string): boolean {
  return DOMAIN_RE.test(s);
}

/**
 * Parses `[registry/]repository[:tag][@digest]`; throws a plain Error saying
 * which part is wrong.
 */
export function parseReference(s: string): ImageRef {
  const raw = s.trim();
  if (raw === '') throw new Error('empty image reference');

  let rest = raw;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isValidDigest(digest)) {
      throw new Error(`digest ${JSON.stringify(digest)} is not valid (want algorithm:hex, e.g. sha256: and 64 lower-case hex digits)`);
    }
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) {
      throw new Error(`tag ${JSON.stringify(tag)} is not valid (up to 128 of letters, digits, _ . -, not starting with . or -)`);
    }
  }

  if (rest === '') throw new Error('no repository name');
  let registry = DEFAULT_REGISTRY;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first === LEGACY_DEFAULT_REGISTRY ? DEFAULT_REGISTRY : first;
      repository = rest.slice(slash + 1);
      if (!isValidRegistry(first)) throw new Error(`registry ${JSON.stringify(first)} is not a valid host[:port]`);
    }
  }
  if (repository === '') throw new Error('no repository name');
  if (repository !== repository.toLowerCase()) {
    throw new Error(`repository ${JSON.stringify(repository)} must be lower-case`);
  }
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT_RE.test(component)) {
      throw new Error(
        component === ''
          ? `repository ${JSON.stringify(repository)} has an empty path component`
          : `repository path component ${JSON.stringify(component)} is not valid (lower-case letters and digits, separated by ., _, __ or -)`,
      );
    }
  }
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;

  const name = `${registry}/${repository}`;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new Error(`name is ${name.length} characters long, more than ${NAME_TOTAL_LENGTH_MAX}`);
  }
  const ref: ImageRef = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** `registry/repository[:tag][@digest]`, always with the registry. */
export function formatReference(ref: ImageRef): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}
