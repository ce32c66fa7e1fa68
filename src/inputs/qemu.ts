// The QEMU inputs: whether to register emulation, and the pinned binfmt image. Pure.
import type { Inputs } from '../model.js';
import { parsePinnedImage, parseTristate, type InputReader } from './values.js';

export type QemuInputs = Pick<Inputs, 'qemu' | 'qemuImage'>;

export function parseQemuInputs(r: InputReader): QemuInputs {
  const qemu = parseTristate('qemu', r.line('qemu'));
  const qemuImage = parsePinnedImage('qemu-image', r.line('qemu-image'));
  return { qemu, qemuImage };
}
