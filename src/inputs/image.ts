// Where the images go: push, image and tags. Pure.
import { formatReference, isValidTag } from '../reference.js';
import type { Inputs, Tristate } from '../model.js';
import { LOCAL_IMAGE } from './defaults.js';
import { fail } from './error.js';
import { lowercaseRepository, parseRef, parseTristate, q, type InputReader } from './values.js';

export type ImageInputs = Pick<Inputs, 'image' | 'tags' | 'push'>;

/**
 * push (resolved against the event), image, tags; a push needs at least one
 * tag. Repository paths with capitals are lower-cased, with a notice.
 */
export function parseImageInputs(r: InputReader, eventName: string, notice?: (message: string) => void): ImageInputs {
  const push = resolvePush(parseTristate('push', r.line('push')), eventName);
  const image = parseImage(lowercaseRepository('image', r.line('image'), notice), push);
  const tags = parseTags(
    r.list('tags').map((t) => (/[/:@]/.test(t) ? lowercaseRepository('tags', t, notice) : t)),
    image,
  );
  if (push && tags.length === 0) fail('tags', 'is empty but push is true: the manifest list needs at least one tag (e.g. 1.2.3 or latest)');
  return { image, tags, push };
}

/** The events on which `push: auto` means no push. */
export function isPullRequestEvent(eventName: string): boolean {
  return eventName === 'pull_request' || eventName === 'pull_request_target';
}

function resolvePush(push: Tristate, eventName: string): boolean {
  if (push !== 'auto') return push === 'true';
  return !isPullRequestEvent(eventName);
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
