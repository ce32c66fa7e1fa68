// The build inputs: context, Dockerfiles, platforms and what goes into
// `buildx build`. Pure: the filesystem comes in through InputEnv.
import * as path from 'node:path';
import { parsePlatform } from '../platform.js';
import type { Inputs, Platform } from '../model.js';
import { parseList } from '../util/list.js';
import { fail, tryOr } from './error.js';
import { keyValues, q, splitPair, type InputEnv, type InputReader } from './values.js';

export type BuildInputs = Pick<
  Inputs,
  | 'context'
  | 'file'
  | 'platforms'
  | 'platformFiles'
  | 'buildArgs'
  | 'labels'
  | 'annotations'
  | 'target'
  | 'secrets'
  | 'cacheFrom'
  | 'cacheTo'
  | 'noCache'
  | 'provenance'
  | 'sbom'
>;

const ANNOTATION_TYPES = ['manifest', 'index', 'manifest-descriptor', 'index-descriptor'];
const REMOTE_CONTEXT = /^(?:https?:\/\/|git:\/\/|ssh:\/\/|git@|github\.com\/)/;

/** context, file, platforms, platform-files, build-args ... sbom, checked in that order. */
export function parseBuildInputs(r: InputReader, env: InputEnv): BuildInputs {
  const context = r.line('context');
  const localContext = !REMOTE_CONTEXT.test(context);
  if (localContext && !env.isDirectory(context)) {
    fail('context', `${q(context)} is not an existing directory (nor a git or https URL)`);
  }
  let dockerfile = r.line('file');
  if (dockerfile === '' && localContext) dockerfile = path.join(context, 'Dockerfile');
  if (dockerfile !== '' && localContext) r.file('file', dockerfile);

  const platforms = parsePlatforms(r.list('platforms'), r.read('platforms'));
  const platformFiles: Record<string, string> = {};
  for (const item of r.list('platform-files', { ignoreComma: true })) {
    const [key, value] = splitPair(item).map((part) => part.trim()) as [string, string];
    if (key === '' || value === '') fail('platform-files', `${q(item)} is not platform=file`);
    const id = tryOr('platform-files', () => parsePlatform(key).id);
    if (!platforms.some((p) => p.id === id)) {
      fail('platform-files', `${q(key)} is not one of platforms (${platforms.map((p) => p.id).join(', ')})`);
    }
    if (platformFiles[id] !== undefined) fail('platform-files', `${q(key)} is given twice`);
    if (localContext) r.file('platform-files', value, ` (for ${id})`);
    platformFiles[id] = value;
  }

  const buildArgs = keyValues('build-args', r.list('build-args', { ignoreComma: true }));
  const labels = keyValues('labels', r.list('labels', { ignoreComma: true }));
  const annotations = keyValues('annotations', r.list('annotations', { ignoreComma: true }));
  annotations.forEach(checkAnnotation);
  const target = r.line('target');
  if (target !== '' && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(target)) fail('target', `${q(target)} is not a build stage name`);
  const secrets = parseSecrets(r.list('secrets', { ignoreComma: true }));
  const cacheFrom = r.list('cache-from', { ignoreComma: true });
  const cacheTo = r.list('cache-to', { ignoreComma: true });
  const noCache = r.bool('no-cache');
  const provenance = parseAttestation('provenance', r.line('provenance'));
  const sbom = parseAttestation('sbom', r.line('sbom'));

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
  };
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
