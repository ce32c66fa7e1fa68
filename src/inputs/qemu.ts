// The QEMU inputs: whether to register emulation, and the pinned binfmt images. Pure.
import type { Inputs } from '../model.js';
import { fail } from './error.js';
import { parsePinnedImage, parseTristate, q, type InputReader } from './values.js';

export type QemuInputs = Pick<Inputs, 'qemu' | 'qemuImage' | 'qemuImages'>;

export function parseQemuInputs(r: InputReader): QemuInputs {
  const qemu = parseTristate('qemu', r.line('qemu'));
  // One reference per line, tried in order (a mirror first, Docker Hub last, say).
  const qemuImages = parseImageList(r, 'qemu-image');
  return { qemu, qemuImage: qemuImages[0] as string, qemuImages };
}

/** A list of pinned image references, one per line, each given once. */
export function parseImageList(r: InputReader, name: string): string[] {
  const images = r.list(name, { ignoreComma: true }).map((v) => parsePinnedImage(name, v));
  const twice = images.find((v, i) => images.indexOf(v) !== i);
  if (twice !== undefined) fail(name, `${q(twice)} is given twice`);
  return images;
}
