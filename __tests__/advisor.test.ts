import { describe, expect, it } from '@jest/globals';
import { ADVICE_MIN_SECONDS, comparisonLine, compareSteps, nativeEstimate, timeReport } from '../src/advisor.js';
import type { BuildStep, PlatformBuild } from '../src/model.js';
import { parsePlatform } from '../src/platform.js';

const T0 = Date.parse('2026-12-02T00:00:00Z');

function step(name: string, seconds: number, cached = false): BuildStep {
  return cached ? { name, seconds: 0, cached } : { name, started: T0, completed: T0 + seconds * 1000, seconds, cached };
}

function build(id: string, emulated: boolean, seconds: number, steps: BuildStep[]): PlatformBuild {
  return { platform: parsePlatform(id), digest: 'sha256:0', pushedDigest: 'sha256:0', ref: 'x', seconds, size: 1, emulated, steps };
}

const RUN = '[2/3] RUN make';
const COPY = '[3/3] COPY app /app';

/** The shape of the example: RUN make 412 s under QEMU vs 45 s natively. */
const heavy = [
  build('linux/amd64', false, 50, [step('[internal] load build definition from Dockerfile', 0.1), step(RUN, 45), step(COPY, 0.5)]),
  build('linux/arm64', true, 420, [step('[internal] load build definition from Dockerfile', 0.1), step(RUN, 412), step(COPY, 0.6)]),
  build('linux/arm/v7', true, 380, [step(RUN, 370), step(COPY, 0.4)]),
];

describe('compareSteps', () => {
  it('pairs each emulated RUN step with the same step run natively, with its factor', () => {
    const c = compareSteps(heavy);
    expect(c.map((x) => [x.emulatedPlatform, x.nativePlatform, x.emulatedSeconds, x.nativeSeconds])).toEqual([
      ['linux/arm64', 'linux/amd64', 412, 45],
      ['linux/arm/v7', 'linux/amd64', 370, 45],
    ]);
    expect(comparisonLine(c[0]!)).toBe('RUN make  412 s on linux/arm64 (QEMU) vs 45.0 s on linux/amd64: 9.2x');
  });

  it('does not compare COPY steps (QEMU does not run them) or cached steps', () => {
    const b = [build('linux/amd64', false, 5, [step(RUN, 4), step(COPY, 1)]), build('linux/arm64', true, 9, [step(RUN, 0, true), step(COPY, 8)])];
    expect(compareSteps(b)).toEqual([]);
  });

  it('has nothing to compare when no platform was built natively', () => {
    expect(compareSteps(heavy.slice(1))).toEqual([]);
  });
});

describe('nativeEstimate', () => {
  it('divides each emulated step by its measured factor', () => {
    const est = nativeEstimate(heavy[1]!, compareSteps(heavy));
    expect(est).toBeCloseTo(420 - (412 - 45), 6);
  });

  it('is the build itself for a native platform, and unknown with no factor measured', () => {
    expect(nativeEstimate(heavy[0]!, [])).toBe(50);
    expect(nativeEstimate(heavy[1]!, [])).toBeUndefined();
  });
});

describe('timeReport', () => {
  it('lists up to five slowest steps per platform, slowest first, cached ones left out', () => {
    const many = build('linux/amd64', false, 30, [
      step('a', 1),
      step('b', 6),
      step('c', 3),
      step('d', 0, true),
      step('e', 5),
      step('f', 2),
      step('g', 4),
    ]);
    expect(timeReport([many]).platforms[0]?.slowest.map((s) => s.name)).toEqual(['b', 'e', 'g', 'c', 'f']);
  });

  it('advises cross-compiling and native runners with the measured figures when emulation dominates', () => {
    const t = timeReport(heavy, 460);
    expect(t.advice).toHaveLength(3);
    expect(t.advice[0]).toBe(
      'Emulation is where the time went: RUN steps under QEMU took 412 s on linux/arm64 (90% of the 460 s run, 9.2x their native time).',
    );
    expect(t.advice[1]).toContain('FROM --platform=$BUILDPLATFORM');
    // arm64: 420 - (412 - 45) = 53; arm/v7: 380 - (370 - 45) = 55; amd64 50: the slowest is 55.
    expect(t.advice[1]).toContain('about 55.0 s instead of 420 s (365 s saved)');
    expect(t.advice[2]).toContain('distribute: true');
  });

  it('gives no advice when nothing is emulated', () => {
    const native = [build('linux/amd64', false, 50, [step(RUN, 45)]), build('linux/386', false, 60, [step(RUN, 55)])];
    expect(timeReport(native, 70).advice).toEqual([]);
  });

  it(`gives no advice when the emulated steps are under ${ADVICE_MIN_SECONDS} s`, () => {
    const cheap = [build('linux/amd64', false, 2, [step(RUN, 0.5)]), build('linux/arm64', true, 9, [step(RUN, 8)])];
    expect(timeReport(cheap, 10).advice).toEqual([]);
  });

  it('gives no advice when the emulated steps are a small share of the run', () => {
    const b = [build('linux/amd64', false, 5, [step(RUN, 2)]), build('linux/arm64', true, 25, [step(RUN, 20)])];
    expect(timeReport(b, 100).advice).toEqual([]);
    expect(timeReport(b, 60).advice).toHaveLength(3);
  });

  it('says there is no estimate when no step ran natively', () => {
    const t = timeReport(heavy.slice(1), 430);
    expect(t.advice[1]).toContain('no estimate');
    expect(t.comparisons).toEqual([]);
  });
});
