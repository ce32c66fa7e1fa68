// Promote phase: copies the verified manifest list to every `promote-to`
// target. (Issue #5 builds the copy itself.)
import type { Exec } from '../exec.js';
import type { Inputs, PlatformBuild } from '../types.js';
import type { Logger } from '../main.js';
import type { PromotionRow } from '../summary.js';

export async function promote(_exec: Exec, inputs: Inputs, _builder: string, _digest: string, _builds: readonly PlatformBuild[], _log: Logger): Promise<PromotionRow[]> {
  if (!inputs.promoteTo.length && !inputs.platformTags) return [];
  throw new Error('promote-to: promotion is not implemented yet');
}
