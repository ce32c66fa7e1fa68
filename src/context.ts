// Every action input, read once and validated into one typed `Inputs`.
// parseInputs is pure given its callbacks; getInputs wires it to the runner.
// Each error is one line that starts with the input's action.yml name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import { parsePlatform, PLATFORM_TAG_PLACEHOLDERS, renderPlatformTag } from './platform.js';
import { formatReference, isValidRegistry, isValidTag, parseReference } from './reference.js';
import type { FailOn, ImageRef, Inputs, Platform, RegistryAuth, Severity, Tristate } from './types.js';
import { parseList, type ListOptions } from './util/list.js';

export class InputError extends Error {
  constructor(
    /** The action.yml name of the offending input. */
    readonly input: string,
    detail: string,
  ) {
    super(`${input}: ${detail}`);
    this.name = 'InputError';
  }
}

export interface InputEnv {
  /** GITHUB_EVENT_NAME, e.g. `push` or `pull_request`. */
  eventName: string;
  exists(path: string): boolean;
  isDirectory(path: string): boolean;
}

/** The image built when push is false and no image is given. */
export const LOCAL_IMAGE = 'localhost/multiarch-build';

/** Defaults, applied when an input is empty; action.yml states the same ones. */
export const DEFAULTS: Readonly<Record<string, string>> = {
  context: '.',
  platforms: 'linux/amd64,linux/arm64',
  'no-cache': 'false',
  provenance: 'false',
  sbom: 'false',
  push: 'auto',
  qemu: 'auto',
  'qemu-image': 'docker.io/tonistiigi/binfmt:qemu-v9.2.2-52',
  driver: 'docker-container',
  'buildx-base-url': 'https://github.com/docker/buildx/releases/download',
  scan: 'true',
  severity: 'UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL',
  'fail-on': 'critical',
  'ignore-unfixed': 'false',
  scanners: 'vuln',
  'trivy-version': 'v0.74.0',
  'trivy-base-url': 'https://github.com/aquasecurity/trivy/releases/download',
};

const DRIVERS = ['docker-container', 'remote', 'kubernetes', 'docker'];
const SEVERITIES: Severity[] = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
const FAIL_ON: FailOn[] = ['critical', 'high', 'medium', 'low', 'none'];
const SCANNERS = ['vuln', 'secret', 'misconfig', 'license'];
const ANNOTATION_TYPES = ['manifest', 'index', 'manifest-descriptor', 'index-descriptor'];
const REMOTE_CONTEXT = /^(?:https?:\/\/|git:\/\/|ssh:\/\/|git@|github\.com\/)/;
const REMOTE_ENDPOINT = /^(?:unix|tcp|docker-container|kube-pod):\/\/\S+$/;
const DOCKER_ENDPOINT = /^(?:unix|tcp|ssh|npipe):\/\/\S+$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;
const VERSION = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const AUTH_KEYS = ['registry', 'username', 'password'];

const q = (value: string): string => JSON.stringify(value);

function fail(input: string, detail: string): never {
  throw new InputError(input, detail);
}

/** Reads the runner's inputs, validates them, and masks registry passwords. */
export function getInputs(): Inputs {
  const inputs = parseInputs((name) => core.getInput(name), {
    eventName: process.env.GITHUB_EVENT_NAME ?? '',
    exists: (p) => fs.existsSync(p),
    isDirectory: (p) => {
      try {
        return fs.statSync(p).isDirectory();
      } catch {
        return false;
      }
    },
  });
  for (const auth of inputs.registryAuth) {
    core.setSecret(auth.password);
    // The docker config and basic auth headers carry base64(user:password).
    core.setSecret(Buffer.from(`${auth.username}:${auth.password}`).toString('base64'));
  }
  return inputs;
}

/** Parses every input; throws an InputError for the first invalid one. */
export function parseInputs(get: (name: string) => string, env: InputEnv): Inputs {
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

  // build
  const context = line('context');
  const localContext = !REMOTE_CONTEXT.test(context);
  if (localContext && !env.isDirectory(context)) {
    fail('context', `${q(context)} is not an existing directory (nor a git or https URL)`);
  }
  let dockerfile = line('file');
  if (dockerfile === '' && localContext) dockerfile = path.join(context, 'Dockerfile');
  if (dockerfile !== '' && localContext) file('file', dockerfile);

  const platforms = parsePlatforms(list('platforms'), read('platforms'));
  const platformFiles: Record<string, string> = {};
  for (const item of list('platform-files', { ignoreComma: true })) {
    const [key, value] = splitPair(item).map((part) => part.trim()) as [string, string];
    if (key === '' || value === '') fail('platform-files', `${q(item)} is not platform=file`);
    const id = tryOr('platform-files', () => parsePlatform(key).id);
    if (!platforms.some((p) => p.id === id)) {
      fail('platform-files', `${q(key)} is not one of platforms (${platforms.map((p) => p.id).join(', ')})`);
    }
    if (platformFiles[id] !== undefined) fail('platform-files', `${q(key)} is given twice`);
    if (localContext) file('platform-files', value, ` (for ${id})`);
    platformFiles[id] = value;
  }

  const buildArgs = keyValues('build-args', list('build-args', { ignoreComma: true }));
  const labels = keyValues('labels', list('labels', { ignoreComma: true }));
  const annotations = keyValues('annotations', list('annotations', { ignoreComma: true }));
  annotations.forEach(checkAnnotation);
  const target = line('target');
  if (target !== '' && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(target)) fail('target', `${q(target)} is not a build stage name`);
  const secrets = parseSecrets(list('secrets', { ignoreComma: true }));
  const cacheFrom = list('cache-from', { ignoreComma: true });
  const cacheTo = list('cache-to', { ignoreComma: true });
  const noCache = bool('no-cache');
  const provenance = parseAttestation('provenance', line('provenance'));
  const sbom = parseAttestation('sbom', line('sbom'));

  // where the images go
  const push = resolvePush(parseTristate('push', line('push')), env.eventName);
  const image = parseImage(line('image'), push);
  const tags = parseTags(list('tags'), image);
  if (push && tags.length === 0) fail('tags', 'is empty but push is true: the manifest list needs at least one tag (e.g. 1.2.3 or latest)');

  // qemu
  const qemu = parseTristate('qemu', line('qemu'));
  const qemuImage = parsePinnedImage('qemu-image', line('qemu-image'));

  // builder
  const driver = line('driver');
  if (!DRIVERS.includes(driver)) fail('driver', `${q(driver)} is not one of ${DRIVERS.join(', ')}`);
  const driverOpts = keyValues('driver-opts', list('driver-opts', { ignoreComma: true }));
  const buildkitdConfig = line('buildkitd-config');
  if (buildkitdConfig !== '') file('buildkitd-config', buildkitdConfig);
  const buildkitdConfigInline = read('buildkitd-config-inline');
  if (buildkitdConfig !== '' && buildkitdConfigInline !== '') {
    fail('buildkitd-config-inline', `cannot be used together with buildkitd-config ${q(buildkitdConfig)}; set only one`);
  }
  const endpoint = line('endpoint');
  const builder = line('builder');
  if (builder !== '') {
    if (!NAME.test(builder)) fail('builder', `${q(builder)} is not a builder name`);
    const conflicts = [
      driver !== DEFAULTS.driver ? `driver (${q(driver)})` : '',
      driverOpts.length > 0 ? 'driver-opts' : '',
      endpoint !== '' ? 'endpoint' : '',
      buildkitdConfig !== '' ? 'buildkitd-config' : '',
      buildkitdConfigInline !== '' ? 'buildkitd-config-inline' : '',
    ].filter((c) => c !== '');
    if (conflicts.length > 0) {
      fail('builder', `${q(builder)} is an existing builder, so leave ${conflicts.join(', ')} unset (they configure a builder this action creates)`);
    }
  }
  if (driver === 'docker' && (driverOpts.length > 0 || buildkitdConfig !== '' || buildkitdConfigInline !== '')) {
    fail('driver', `"docker" takes no driver-opts, buildkitd-config or buildkitd-config-inline (use docker-container)`);
  }
  if (driver === 'remote' && endpoint === '') fail('endpoint', 'is required when driver is "remote"');
  if (driver === 'remote' && !REMOTE_ENDPOINT.test(endpoint)) {
    fail('endpoint', `${q(endpoint)} is not a unix://, tcp://, docker-container:// or kube-pod:// URL`);
  }
  if (driver !== 'remote' && endpoint !== '' && !DOCKER_ENDPOINT.test(endpoint) && !NAME.test(endpoint)) {
    fail('endpoint', `${q(endpoint)} is neither a docker endpoint URL nor a docker context name`);
  }
  const buildxVersion = line('buildx-version');
  const buildxVersionParsed = buildxVersion === '' || buildxVersion === 'latest' ? buildxVersion : parseVersion('buildx-version', buildxVersion, 'latest or');
  const buildxBaseUrl = parseHttpUrl('buildx-base-url', line('buildx-base-url'));
  const maxParallelRaw = line('max-parallel');
  if (maxParallelRaw !== '' && !/^[1-9]\d*$/.test(maxParallelRaw)) {
    fail('max-parallel', `${q(maxParallelRaw)} is not a whole number of 1 or more (leave it empty for all platforms at once)`);
  }
  const maxParallel = maxParallelRaw === '' ? 0 : Number(maxParallelRaw);

  // scan
  const scan = bool('scan');
  const severity = parseSeverity(list('severity'), read('severity'));
  const failOn = line('fail-on').toLowerCase() as FailOn;
  if (!FAIL_ON.includes(failOn)) fail('fail-on', `${q(read('fail-on'))} is not one of ${FAIL_ON.join(', ')}`);
  if (scan && failOn !== 'none') {
    const needed = SEVERITIES.slice(SEVERITIES.indexOf(failOn.toUpperCase() as Severity));
    const missing = needed.filter((s) => !severity.includes(s));
    if (missing.length > 0) {
      fail('fail-on', `${q(failOn)} needs ${missing.join(', ')} in severity (severity is ${q(severity.join(','))}), or those findings would pass unseen`);
    }
  }
  const ignoreUnfixed = bool('ignore-unfixed');
  const trivyignores = list('trivyignores');
  trivyignores.forEach((p) => file('trivyignores', p));
  const scanners = parseScanners(list('scanners'), read('scanners'));
  const trivyVersion = parseVersion('trivy-version', line('trivy-version'), '');
  const trivyBaseUrl = parseHttpUrl('trivy-base-url', line('trivy-base-url'));
  const trivyDbRepository = line('trivy-db-repository');
  if (trivyDbRepository !== '') {
    tryOr('trivy-db-repository', () => parseReference(trivyDbRepository), `${q(trivyDbRepository)} is not a valid image reference: `);
  }
  const trivyCacheDir = line('trivy-cache-dir');
  const sarif = line('sarif');
  if (sarif !== '' && !scan) fail('sarif', `${q(sarif)} is set but scan is false, so there is nothing to write`);
  if (sarif !== '' && env.exists(sarif) && !env.isDirectory(sarif)) fail('sarif', `${q(sarif)} exists and is not a directory`);

  // promote
  const promoteTo = parsePromoteTo(list('promote-to'), tags, push);
  const registryAuth = parseRegistryAuth(read('registry-auth'));
  const platformTags = line('platform-tags');
  if (platformTags !== '') checkPlatformTags(platformTags, [...tags, ...promoteTo], platforms);

  return {
    context,
    file: dockerfile,
    platforms,
    platformFiles,
    buildArgs,
    labels,
    annotations,
    target,
    secrets,
    cacheFrom,
    cacheTo,
    noCache,
    provenance,
    sbom,
    image,
    tags,
    push,
    qemu,
    qemuImage,
    builder,
    driver,
    driverOpts,
    endpoint,
    buildkitdConfig,
    buildkitdConfigInline,
    buildxVersion: buildxVersionParsed,
    buildxBaseUrl,
    maxParallel,
    scan,
    severity,
    failOn,
    ignoreUnfixed,
    trivyignores,
    scanners,
    trivyVersion,
    trivyBaseUrl,
    trivyDbRepository,
    trivyCacheDir,
    sarif,
    promoteTo,
    registryAuth,
    platformTags,
  };
}

/** Runs `fn`; a plain Error it throws becomes an InputError for `input`. */
function tryOr<T>(input: string, fn: () => T, prefix = ''): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) throw err;
    return fail(input, `${prefix}${(err as Error).message}`);
  }
}

/** YAML 1.2 core booleans, as core.getBooleanInput accepts them. */
function parseBool(input: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  return fail(input, `${q(value)} is not a boolean (use true or false)`);
}

function parseTristate(input: string, value: string): Tristate {
  if (['auto', 'Auto', 'AUTO'].includes(value)) return 'auto';
  if (['true', 'True', 'TRUE'].includes(value)) return 'true';
  if (['false', 'False', 'FALSE'].includes(value)) return 'false';
  return fail(input, `${q(value)} is not one of auto, true, false`);
}

function resolvePush(push: Tristate, eventName: string): boolean {
  if (push !== 'auto') return push === 'true';
  return eventName !== 'pull_request' && eventName !== 'pull_request_target';
}

/** Splits at the first `=`; the value may itself contain `=`. */
function splitPair(item: string): [string, string] {
  const eq = item.indexOf('=');
  return eq === -1 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)];
}

/** KEY=VALUE items: a key without whitespace, then `=`; the value may be empty. */
function keyValues(input: string, items: string[]): string[] {
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0 || /\s/.test(item.slice(0, eq))) fail(input, `${q(item)} is not KEY=VALUE`);
  }
  return items;
}

/** `[type[,type...]:]key=value`, types as buildx accepts them, e.g. `index:` or `manifest[linux/amd64]:`. */
function checkAnnotation(item: string): void {
  const [key] = splitPair(item);
  const colon = key.indexOf(':');
  if (colon === -1) return;
  for (const type of key.slice(0, colon).split(',')) {
    const m = /^([a-z-]+)(?:\[([^\]]+)\])?$/.exec(type);
    if (!m || !ANNOTATION_TYPES.includes(m[1] ?? '')) {
      fail('annotations', `unknown annotation type ${q(type)} in ${q(item)} (use ${ANNOTATION_TYPES.join(', ')})`);
    }
    if (m[2] !== undefined) tryOr('annotations', () => parsePlatform(m[2] ?? ''), `${q(item)}: `);
  }
}

function parsePlatforms(items: string[], raw: string): Platform[] {
  if (items.length === 0) fail('platforms', `${q(raw)} lists no platform`);
  const platforms: Platform[] = [];
  for (const item of items) {
    const p = tryOr('platforms', () => parsePlatform(item));
    if (platforms.some((other) => other.id === p.id)) fail('platforms', `${q(item)} repeats ${p.id}`);
    platforms.push(p);
  }
  return platforms;
}

/** `id=value` lines. Values are never echoed: they are secrets. */
function parseSecrets(items: string[]): string[] {
  const ids = new Set<string>();
  items.forEach((item, i) => {
    const eq = item.indexOf('=');
    if (eq <= 0) fail('secrets', `entry ${i + 1} is not id=value (the value is not shown)`);
    const id = item.slice(0, eq);
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) fail('secrets', `id ${q(id)} must match [A-Za-z0-9_.-]+`);
    if (ids.has(id)) fail('secrets', `id ${q(id)} is given twice`);
    ids.add(id);
  });
  return items;
}

/** `true`, `false`, or buildx attestation attributes `key=value[,key=value...]`. */
function parseAttestation(input: string, value: string): string {
  if (['true', 'True', 'TRUE', 'false', 'False', 'FALSE'].includes(value)) return value.toLowerCase();
  let items: string[] = [];
  try {
    items = parseList(value);
  } catch {
    // reported below
  }
  if (items.length === 0 || items.some((item) => !/^[A-Za-z][\w.-]*=/.test(item))) {
    fail(input, `${q(value)} is not true, false or key=value[,key=value...] (e.g. mode=max)`);
  }
  return value;
}

function parseRef(input: string, value: string, what = 'image reference'): ImageRef {
  return tryOr(input, () => parseReference(value), `${q(value)} is not a valid ${what}: `);
}

function parseImage(value: string, push: boolean): string {
  if (value === '') {
    if (push) fail('image', 'is required because push is true; set it to the repository to push to, e.g. ghcr.io/org/app');
    return LOCAL_IMAGE;
  }
  const ref = parseRef('image', value);
  if (ref.tag !== undefined) fail('image', `${q(value)} must not have a tag (put tags in tags)`);
  if (ref.digest !== undefined) fail('image', `${q(value)} must not have a digest`);
  return formatReference(ref);
}

/** Bare tags become `<image>:<tag>`; full references need a tag and no digest. */
function parseTags(items: string[], image: string): string[] {
  const tags: string[] = [];
  for (const item of items) {
    let full: string;
    if (!/[/:@]/.test(item)) {
      if (!isValidTag(item)) fail('tags', `${q(item)} is not a valid tag or image reference`);
      full = `${image}:${item}`;
    } else {
      const ref = parseRef('tags', item, 'tag or image reference');
      if (ref.tag === undefined) fail('tags', `${q(item)} has no tag`);
      if (ref.digest !== undefined) fail('tags', `${q(item)} must not have a digest`);
      full = formatReference(ref);
    }
    if (!tags.includes(full)) tags.push(full);
  }
  return tags;
}

/** An image pinned by a version tag (not latest) or a digest. */
function parsePinnedImage(input: string, value: string): string {
  const ref = parseRef(input, value);
  if (ref.digest === undefined && (ref.tag === undefined || ref.tag === 'latest')) {
    fail(input, `${q(value)} is not pinned; give a version tag other than latest, or a digest`);
  }
  return formatReference(ref);
}

/** `vX.Y.Z` or `X.Y.Z` (optionally with a pre-release), returned with the leading v. */
function parseVersion(input: string, value: string, alternatives: string): string {
  if (!VERSION.test(value)) fail(input, `${q(value)} is not ${alternatives ? `${alternatives} ` : ''}a version like v1.2.3`);
  return value.startsWith('v') ? value : `v${value}`;
}

/** An http(s) URL, returned without trailing slashes. */
function parseHttpUrl(input: string, value: string): string {
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

function parseSeverity(items: string[], raw: string): Severity[] {
  if (items.length === 0) fail('severity', `${q(raw)} lists no severity`);
  const given = new Set<Severity>();
  for (const item of items) {
    const s = item.toUpperCase() as Severity;
    if (!SEVERITIES.includes(s)) fail('severity', `${q(item)} is not one of ${SEVERITIES.join(', ')}`);
    given.add(s);
  }
  return SEVERITIES.filter((s) => given.has(s));
}

function parseScanners(items: string[], raw: string): string[] {
  if (items.length === 0) fail('scanners', `${q(raw)} lists no scanner`);
  const scanners: string[] = [];
  for (const item of items) {
    const s = item.toLowerCase();
    if (!SCANNERS.includes(s)) fail('scanners', `${q(item)} is not one of ${SCANNERS.join(', ')}`);
    if (!scanners.includes(s)) scanners.push(s);
  }
  return scanners;
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
