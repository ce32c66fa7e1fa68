// QEMU phase: find the builder node each platform goes to, plan which of them
// need emulation on this runner, then register only those. The builder's nodes
// decide what is native; a node that is not on this runner emulates (or not)
// on its own host.
import type { BuilderInfo } from '../buildx/builder.js';
import { driverSupport, onRunner } from '../buildx/drivers.js';
import type { Exec } from '../exec.js';
import type { Inputs, PlatformBuild } from '../model.js';
import { planQemu, type NodeFacts, type QemuPlanItem } from '../qemu/plan.js';
import { setupQemu, type QemuResult } from '../qemu/setup.js';
import type { Runtime } from './runtime.js';

export type QemuPhaseInputs = Pick<Inputs, 'qemu' | 'qemuImage' | 'platforms'>;

export interface QemuPhaseResult extends QemuResult {
  /** Per platform id: the node that builds it and whether that node is on this runner. */
  placement: Record<string, Pick<QemuPlanItem, 'node' | 'onRunner'>>;
}

/** The planning facts of a builder's nodes: what they list, and whether each is on this runner's docker. */
export function nodeFacts(info: BuilderInfo): NodeFacts[] {
  const support = driverSupport(info.driver);
  return info.nodes.map((n) => ({
    name: n.name,
    driver: info.driver,
    platforms: n.platforms,
    userPlatforms: n.userPlatforms,
    // A driver the table does not know is taken to be on this runner (QEMU planned as before).
    onRunner: support ? onRunner(support, n.endpoint) : true,
  }));
}

export async function prepareQemu(
  exec: Exec,
  inputs: QemuPhaseInputs,
  builder: BuilderInfo,
  rt: Pick<Runtime, 'hostArch' | 'readBinfmt' | 'log'>,
): Promise<QemuPhaseResult> {
  const plan = planQemu(inputs.qemu, inputs.platforms, rt.hostArch, await rt.readBinfmt(), nodeFacts(builder));
  const result = await setupQemu(exec, plan, { qemuImage: inputs.qemuImage, log: (m) => rt.log.info(m) });
  const placement = Object.fromEntries(plan.items.map((i) => [i.platform.id, { onRunner: i.onRunner, ...(i.node ? { node: i.node } : {}) }]));
  return { ...result, placement };
}

/** The builds with the node that built each, and whether it is a node not on this runner. */
export function withPlacement(builds: readonly PlatformBuild[], qemu: Pick<QemuPhaseResult, 'placement'>): PlatformBuild[] {
  return builds.map((b) => {
    const p = qemu.placement[b.platform.id];
    if (!p) return b;
    return { ...b, ...(p.node ? { node: p.node } : {}), remoteNode: !p.onRunner };
  });
}
