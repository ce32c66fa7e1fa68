// Where a run's build time went, from each platform's step timings: the
// slowest steps, how much slower a step ran under QEMU than the same step
// natively for another platform in the same run, and advice when emulation is
// what the run waits for. Pure: the summary and the log render what it returns.
import { isRunStep, stepKey, stepLabel } from './buildx/progress.js';
import type { BuildStep, PlatformBuild } from './model.js';

/**
 * Advice is given only when the emulated RUN steps of the slowest emulated
 * platform take at least this many seconds AND this share of the run's wall
 * time. Why both: below ~10 s the ways out cost more than they save (a native
 * runner job takes 10-30 s to start; restructuring a Dockerfile for a few
 * seconds is not worth a reader's time), and below a quarter of the run the
 * run is waiting on something else (scans, pushes, promotion), so emulation is
 * not where the time went even if a step is slow in itself.
 */
export const ADVICE_MIN_SECONDS = 10;
export const ADVICE_MIN_SHARE = 0.25;
/** A native step shorter than this is too short to divide by (timer noise). */
const MIN_NATIVE_SECONDS = 0.05;
/** Steps shorter than this are not listed among the slowest (loads of the Dockerfile and context). */
const MIN_LISTED_SECONDS = 0.05;
/** Emulated steps shorter than this are not worth a comparison line. */
const MIN_COMPARED_SECONDS = 1;
const MAX_SLOWEST = 5;
const MAX_COMPARISONS = 3;

export interface PlatformTime {
  platform: string;
  emulated: boolean;
  /** The build's wall time. */
  seconds: number;
  /** Up to five slowest steps that ran (cached ones took no time). */
  slowest: BuildStep[];
}

/** The same step, emulated on one platform and native on another, in one run. */
export interface Comparison {
  step: string;
  emulatedPlatform: string;
  emulatedSeconds: number;
  nativePlatform: string;
  nativeSeconds: number;
  factor: number;
}

export interface TimeReport {
  platforms: PlatformTime[];
  comparisons: Comparison[];
  /** One line each; empty when emulation is not where the time went. */
  advice: string[];
}

function ran(steps: readonly BuildStep[] | undefined): BuildStep[] {
  return (steps ?? []).filter((s) => !s.cached && s.started !== undefined);
}

function emulatedRunSteps(b: PlatformBuild): BuildStep[] {
  return b.emulated ? ran(b.steps).filter((s) => isRunStep(s.name)) : [];
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function median(values: readonly number[]): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Every emulated RUN step that also ran natively (same step, see stepKey) for another platform of the run. */
export function compareSteps(builds: readonly PlatformBuild[]): Comparison[] {
  const natives = builds.filter((b) => !b.emulated);
  const out: Comparison[] = [];
  for (const b of builds) {
    for (const s of emulatedRunSteps(b)) {
      for (const n of natives) {
        const twin = ran(n.steps).find((t) => stepKey(t.name) === stepKey(s.name) && t.seconds >= MIN_NATIVE_SECONDS);
        if (!twin) continue;
        out.push({
          step: stepLabel(s.name),
          emulatedPlatform: b.platform.id,
          emulatedSeconds: s.seconds,
          nativePlatform: n.platform.id,
          nativeSeconds: twin.seconds,
          factor: s.seconds / twin.seconds,
        });
        break;
      }
    }
  }
  return out.sort((a, b) => b.emulatedSeconds - a.emulatedSeconds);
}

/**
 * A build's estimated time had its emulated RUN steps run natively: each step
 * divided by its own measured factor, or by the run's median factor when the
 * step had no native twin. Undefined when the run measured no factor at all.
 */
export function nativeEstimate(b: PlatformBuild, comparisons: readonly Comparison[]): number | undefined {
  const steps = emulatedRunSteps(b);
  if (!steps.length) return b.seconds;
  const fallback = median(comparisons.map((c) => c.factor));
  let saved = 0;
  for (const s of steps) {
    const own = comparisons.find((c) => c.emulatedPlatform === b.platform.id && c.step === stepLabel(s.name));
    const factor = own?.factor ?? fallback;
    if (factor === undefined) return undefined;
    if (factor > 1) saved += s.seconds * (1 - 1 / factor);
  }
  return Math.max(0, b.seconds - saved);
}

function fmt(s: number): string {
  return s >= 100 ? s.toFixed(0) : s.toFixed(1);
}

function advise(builds: readonly PlatformBuild[], comparisons: readonly Comparison[], runSeconds: number | undefined): string[] {
  const emulated = builds.filter((b) => b.emulated && emulatedRunSteps(b).length);
  if (!emulated.length) return [];
  const worst = emulated.reduce((a, b) => (sum(emulatedRunSteps(b).map((s) => s.seconds)) > sum(emulatedRunSteps(a).map((s) => s.seconds)) ? b : a));
  const emuSeconds = sum(emulatedRunSteps(worst).map((s) => s.seconds));
  const base = runSeconds && runSeconds > 0 ? runSeconds : Math.max(...builds.map((b) => b.seconds));
  const share = emuSeconds / base;
  if (emuSeconds < ADVICE_MIN_SECONDS || share < ADVICE_MIN_SHARE) return [];

  const mine = comparisons.filter((c) => c.emulatedPlatform === worst.platform.id);
  const factor = median(mine.map((c) => c.factor)) ?? median(comparisons.map((c) => c.factor));
  const measured = factor !== undefined ? `, ${factor.toFixed(1)}x their native time` : '';
  const lines = [
    `Emulation is where the time went: RUN steps under QEMU took ${fmt(emuSeconds)} s on ${worst.platform.id} (${Math.round(share * 100)}% of the ${fmt(base)} s run${measured}).`,
  ];
  const current = Math.max(...builds.map((b) => b.seconds));
  const estimates = builds.map((b) => nativeEstimate(b, comparisons));
  const known = estimates.every((e) => e !== undefined);
  const after = known ? Math.max(...(estimates as number[])) : undefined;
  const saving =
    after !== undefined
      ? ` Estimated: the builds take about ${fmt(after)} s instead of ${fmt(current)} s (${fmt(current - after)} s saved).`
      : ' (No native run of these steps in this run, so no estimate.)';
  lines.push(
    `Cross-compile: do the compile in a \`FROM --platform=$BUILDPLATFORM\` stage targeting TARGETARCH/TARGETVARIANT (GOARCH/GOARM, a cross C compiler), so only the last stage runs for the target.${saving}`,
    `Or native runners: build each platform on its own runner (the reusable workflow's \`distribute: true\`, or \`mode: platform\` legs and a \`mode: merge\` job)${after !== undefined ? `; the slowest leg's build would take about ${fmt(after)} s, plus runner start-up` : ''}.`,
  );
  return lines;
}

/** The run's time report; `runSeconds` is its wall time so far (the share threshold's base). */
export function timeReport(builds: readonly PlatformBuild[], runSeconds?: number): TimeReport {
  const platforms = builds.map((b) => ({
    platform: b.platform.id,
    emulated: b.emulated,
    seconds: b.seconds,
    slowest: ran(b.steps)
      .filter((s) => s.seconds >= MIN_LISTED_SECONDS)
      .sort((x, y) => y.seconds - x.seconds)
      .slice(0, MAX_SLOWEST),
  }));
  const comparisons = compareSteps(builds);
  return {
    platforms,
    comparisons: comparisons.filter((c) => c.emulatedSeconds >= MIN_COMPARED_SECONDS).slice(0, MAX_COMPARISONS),
    advice: advise(builds, comparisons, runSeconds),
  };
}

/** A comparison as one line: `RUN make  412 s on linux/arm64 (QEMU) vs 45 s on linux/amd64: 9.2x`. */
export function comparisonLine(c: Comparison): string {
  return `${c.step}  ${fmt(c.emulatedSeconds)} s on ${c.emulatedPlatform} (QEMU) vs ${fmt(c.nativeSeconds)} s on ${c.nativePlatform}: ${c.factor.toFixed(1)}x`;
}
