// QEMU user-mode emulation: plan which platforms need a binfmt_misc entry
// (qemu/plan.ts, pure), then register only those (qemu/setup.ts).
export {
  elfMagic,
  emulatedPlatforms,
  findEntry,
  isNative,
  isUsable,
  parseBinfmtEntry,
  planQemu,
  registerLine,
  type BinfmtEntry,
  type QemuAction,
  type QemuPlan,
  type QemuPlanItem,
} from './qemu/plan.js';
export { nodeQemuFs, readBinfmtEntries, setupQemu, type QemuFs, type QemuResult, type SetupQemuOptions } from './qemu/setup.js';
