// The promote inputs: extra references for the manifest list, registry
// credentials, and per-platform tags. Checked against the tags, push and
// platforms already parsed. Pure.
import { isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import { PLATFORM_TAG_PLACEHOLDERS, renderPlatformTag } from '../platform.js';
import { formatReference, isValidRegistry, isValidTag, parseReference } from '../reference.js';
import type { Inputs, Platform, RegistryAuth } from '../model.js';
import { authKey } from '../credentials.js';
import { fail } from './error.js';
import { isPullRequestEvent } from './image.js';
import { lowercaseRepository, parseRef, parseTristate, q, type InputReader } from './values.js';

export type PromoteInputs = Pick<Inputs, 'promoteTo' | 'registryAuth' | 'platformTags' | 'githubToken'>;

const AUTH_KEYS = ['registry', 'username', 'password'];

/** A registry-auth entry as written, before empty credentials are judged. */
interface AuthEntry extends RegistryAuth {
  entry: string;
}

/**
 * promote-to (needs push, distinct from tags), registry-auth (an entry with
 * empty credentials is skipped when the run writes nothing to its registry),
 * platform-tags (rendered over tags and promote-to), github-token.
 */
export function parsePromoteInputs(
  r: InputReader,
  parsed: Pick<Inputs, 'image' | 'tags' | 'push' | 'platforms'>,
  env: { eventName: string; notice?: (message: string) => void },
): PromoteInputs {
  const items = r.list('promote-to').map((item) => lowercaseRepository('promote-to', item, env.notice));
  const listed = parsePromoteTo(items, parsed.tags);
  let promoteTo = listed;
  if (listed.length > 0 && !parsed.push) {
    // One workflow for pushes and pull requests: push auto turns pushing off on
    // a pull request, and promotion with it. An explicit push: false is a contradiction.
    if (parseTristate('push', r.line('push')) !== 'auto' || !isPullRequestEvent(env.eventName)) {
      fail('promote-to', `${q(items[0] ?? '')} is set but push is false, so nothing is pushed that could be promoted`);
    }
    env.notice?.(`promote-to: skipped on this ${env.eventName} event (push is auto, so nothing is pushed or promoted)`);
    promoteTo = [];
  }
  const written = parsed.push ? writtenRegistries([parsed.image, ...parsed.tags, ...promoteTo]) : new Set<string>();
  const registryAuth = judgeEmptyCredentials(parseRegistryAuth(r.read('registry-auth')), written, env.notice);
  const platformTags = r.line('platform-tags');
  if (platformTags !== '') checkPlatformTags(platformTags, [...parsed.tags, ...listed], parsed.platforms, parsed.push);
  const githubToken = r.line('github-token');
  return { promoteTo, registryAuth, platformTags, githubToken };
}

/** Docker's config keys of the registries these references are written to. */
function writtenRegistries(refs: readonly string[]): Set<string> {
  return new Set(refs.map((ref) => authKey(parseReference(ref).registry)));
}

/**
 * Entries with an empty username or password (a secret a fork's pull request
 * does not get) are an error only for a registry the run writes to; otherwise
 * they are dropped with a notice.
 */
function judgeEmptyCredentials(entries: AuthEntry[], written: Set<string>, notice?: (message: string) => void): RegistryAuth[] {
  const auths: RegistryAuth[] = [];
  for (const { entry, registry, username, password } of entries) {
    const missing = [username === '' ? 'username' : '', password === '' ? 'password' : ''].filter((m) => m !== '').join(' and ');
    if (missing === '') {
      auths.push({ registry, username, password });
      continue;
    }
    if (written.has(authKey(registry))) {
      fail(
        'registry-auth',
        `${entry} (${registry}) has no ${missing}, but this run pushes to ${registry} (is the secret set, and available to this event?)`,
      );
    }
    notice?.(`registry-auth: ${entry} (${registry}) has no ${missing}; skipped, since this run writes nothing to ${registry}`);
  }
  return auths;
}

function parsePromoteTo(items: string[], tags: string[]): string[] {
  const promoteTo: string[] = [];
  for (const item of items) {
    const ref = parseRef('promote-to', item, 'image reference');
    if (ref.tag === undefined || !/[/:]/.test(item)) fail('promote-to', `${q(item)} is not a full image reference with a tag`);
    if (ref.digest !== undefined) fail('promote-to', `${q(item)} must not have a digest`);
    const full = formatReference(ref);
    if (tags.includes(full)) fail('promote-to', `${q(item)} is already one of tags`);
    if (!promoteTo.includes(full)) promoteTo.push(full);
  }
  return promoteTo;
}

/**
 * A YAML list of {registry, username, password}. Every scalar is read as a
 * string (failsafe schema), so a password like 0123 stays as written. Errors
 * never echo the text: it holds passwords.
 */
function parseRegistryAuth(text: string): AuthEntry[] {
  if (text === '') return [];
  const shape = 'not a YAML list of {registry, username, password}';
  const docs = parseAllDocuments(text, { schema: 'failsafe', logLevel: 'silent', uniqueKeys: true });
  const doc = Array.isArray(docs) ? docs[0] : undefined;
  if (!Array.isArray(docs) || docs.length !== 1 || !doc) return fail('registry-auth', `${shape} (one YAML document)`);
  const err = doc.errors[0];
  if (err) {
    const lineNo = text.slice(0, err.pos[0]).split('\n').length;
    fail('registry-auth', `${shape} (YAML error on line ${lineNo})`);
  }
  if (!isSeq(doc.contents)) fail('registry-auth', shape);
  const auths: AuthEntry[] = [];
  doc.contents.items.forEach((node, i) => {
    const entry = `entry ${i + 1}`;
    if (!isMap(node)) fail('registry-auth', `${entry} is not a mapping of registry, username and password`);
    const values: Record<string, string> = {};
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!AUTH_KEYS.includes(key)) fail('registry-auth', `${entry} has an unknown key ${q(key)} (use ${AUTH_KEYS.join(', ')})`);
      values[key] = isScalar(pair.value) && pair.value.value !== null ? String(pair.value.value) : '';
    }
    const registry = values.registry ?? '';
    if (registry === '') fail('registry-auth', `${entry} has no registry`);
    if (!isValidRegistry(registry)) fail('registry-auth', `${entry} registry ${q(registry)} is not a registry host[:port]`);
    if (auths.some((a) => a.registry === registry)) fail('registry-auth', `${entry} registry ${q(registry)} is given twice`);
    auths.push({ entry, registry, username: values.username ?? '', password: values.password ?? '' });
  });
  return auths;
}

/** Placeholders must be known, `{tag}` present, and every rendered tag valid and distinct. */
function checkPlatformTags(template: string, refs: string[], platforms: Platform[], push: boolean): void {
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    const name = m[1] ?? '';
    if (!(PLATFORM_TAG_PLACEHOLDERS as readonly string[]).includes(name)) {
      fail('platform-tags', `unknown placeholder {${name}} in ${q(template)} (use {tag}, {os}, {arch}, {variant})`);
    }
  }
  if (!template.includes('{tag}')) fail('platform-tags', `${q(template)} must contain {tag}`);
  if (refs.length === 0 && push) fail('platform-tags', `${q(template)} is set but there are no tags to render it with`);
  const tagsOf = [...new Set(refs.map((r) => parseReference(r).tag ?? ''))];
  for (const tag of tagsOf) {
    const seen = new Map<string, string>();
    for (const p of platforms) {
      const rendered = renderPlatformTag(template, tag, p);
      if (!isValidTag(rendered)) fail('platform-tags', `${q(template)} gives ${q(rendered)} for ${p.id}, which is not a valid tag`);
      if (rendered === tag) fail('platform-tags', `${q(template)} gives ${q(rendered)} for ${p.id}, the same as the tag itself`);
      const other = seen.get(rendered);
      if (other !== undefined) fail('platform-tags', `${q(template)} gives ${q(rendered)} for both ${other} and ${p.id}`);
      seen.set(rendered, p.id);
    }
  }
}
