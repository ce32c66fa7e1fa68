// The promote inputs: extra references for the manifest list, registry
// credentials, and per-platform tags. Checked against the tags, push and
// platforms already parsed. Pure.
import { isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import { PLATFORM_TAG_PLACEHOLDERS, renderPlatformTag } from '../platform.js';
import { formatReference, isValidRegistry, isValidTag, parseReference } from '../reference.js';
import type { Inputs, Platform, RegistryAuth } from '../model.js';
import { fail } from './error.js';
import { parseRef, q, type InputReader } from './values.js';

export type PromoteInputs = Pick<Inputs, 'promoteTo' | 'registryAuth' | 'platformTags' | 'registryTimeout'>;

const AUTH_KEYS = ['registry', 'username', 'password'];

/** promote-to (needs push, distinct from tags), registry-auth, platform-tags (rendered over tags and promote-to). */
export function parsePromoteInputs(r: InputReader, parsed: Pick<Inputs, 'tags' | 'push' | 'platforms'>): PromoteInputs {
  const promoteTo = parsePromoteTo(r.list('promote-to'), parsed.tags, parsed.push);
  const registryAuth = parseRegistryAuth(r.read('registry-auth'));
  const platformTags = r.line('platform-tags');
  if (platformTags !== '') checkPlatformTags(platformTags, [...parsed.tags, ...promoteTo], parsed.platforms);
  return { promoteTo, registryAuth, platformTags, registryTimeout: parseTimeout(r.line('registry-timeout')) };
}

/** Whole seconds, 1 to 3600: how long a registry request may go without a byte before it is aborted. */
function parseTimeout(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 3600) {
    fail('registry-timeout', `${q(value)} is not a number of seconds from 1 to 3600`);
  }
  return Number(value);
}

function parsePromoteTo(items: string[], tags: string[], push: boolean): string[] {
  if (items.length > 0 && !push) {
    fail('promote-to', `${q(items[0] ?? '')} is set but push is false, so nothing is pushed that could be promoted`);
  }
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
function parseRegistryAuth(text: string): RegistryAuth[] {
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
  const auths: RegistryAuth[] = [];
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
    if ((values.username ?? '') === '') fail('registry-auth', `${entry} (${registry}) has no username`);
    if ((values.password ?? '') === '') fail('registry-auth', `${entry} (${registry}) has no password`);
    auths.push({ registry, username: values.username ?? '', password: values.password ?? '' });
  });
  return auths;
}

/** Placeholders must be known, `{tag}` present, and every rendered tag valid and distinct. */
function checkPlatformTags(template: string, refs: string[], platforms: Platform[]): void {
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    const name = m[1] ?? '';
    if (!(PLATFORM_TAG_PLACEHOLDERS as readonly string[]).includes(name)) {
      fail('platform-tags', `unknown placeholder {${name}} in ${q(template)} (use {tag}, {os}, {arch}, {variant})`);
    }
  }
  if (!template.includes('{tag}')) fail('platform-tags', `${q(template)} must contain {tag}`);
  if (refs.length === 0) fail('platform-tags', `${q(template)} is set but there are no tags to render it with`);
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
