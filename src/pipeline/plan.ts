// Plan phase: the job matrix of a distributed run, one leg per platform on
// its runner. Pure; every input was already checked when it was parsed.
import type { Inputs } from '../model.js';
import { platformSlug } from '../platform.js';

export interface MatrixEntry {
  platform: string;
  /** One runner label, or a label set for `runs-on`. */
  runner: string | string[];
  /** File-name safe platform, e.g. `linux-arm-v7`. */
  slug: string;
}

export interface Matrix {
  include: MatrixEntry[];
}

export function planMatrix(inputs: Pick<Inputs, 'runners'>): Matrix {
  return { include: inputs.runners.map((r) => ({ platform: r.platform.id, runner: r.runner, slug: platformSlug(r.platform) })) };
}
