// QEMU phase: plan which platforms need emulation, then register only those.
import type { Exec } from '../exec.js';
import type { Inputs } from '../model.js';
import { planQemu } from '../qemu/plan.js';
import { setupQemu, type QemuResult } from '../qemu/setup.js';
import type { Runtime } from './runtime.js';

export type QemuPhaseInputs = Pick<Inputs, 'qemu' | 'qemuImage' | 'platforms'>;

export async function prepareQemu(exec: Exec, inputs: QemuPhaseInputs, rt: Pick<Runtime, 'hostArch' | 'readBinfmt' | 'log'>): Promise<QemuResult> {
  const plan = planQemu(inputs.qemu, inputs.platforms, rt.hostArch, await rt.readBinfmt());
  return setupQemu(exec, plan, { qemuImage: inputs.qemuImage, log: (m) => rt.log.info(m) });
}
