import { describe, expect, it } from '@jest/globals';
import { runClock, unionMs } from '../src/pipeline/timing.js';
import type { Runtime } from '../src/pipeline/runtime.js';
import type { PlatformBuild } from '../src/model.js';
import { parsePlatform } from '../src/platform.js';

describe('unionMs', () => {
  it.each([
    ['nothing', [], 0],
    ['one interval', [[0, 10]], 10],
    [
      'disjoint ones add up',
      [
        [0, 10],
        [20, 25],
      ],
      15,
    ],
    [
      'overlaps count once',
      [
        [0, 10],
        [5, 15],
        [12, 14],
      ],
      15,
    ],
    [
      'a contained one adds nothing, in any order',
      [
        [5, 6],
        [0, 10],
      ],
      10,
    ],
  ] as [string, [number, number][], number][])('%s', (_n, intervals, want) => {
    expect(unionMs(intervals)).toBe(want);
  });
});

/** A runtime on a hand-driven clock: each exec advances it by the time asked. */
function fakeRuntime(): { rt: Runtime; advance(ms: number): void } {
  let t = 10_000;
  const rt = {
    now: () => t,
    started: { process: 9_000, main: 9_800 },
    exec: async (_cmd: string, args: readonly string[]) => {
      t += Number(args[0] ?? 0);
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    ensureBuildx: async () => {
      t += 300;
    },
    ensureTrivy: async () => '/bin/trivy',
    fetchImpl: (async () => {
      t += 50;
      return new Response('');
    }) as typeof fetch,
  } as unknown as Runtime;
  return { rt, advance: (ms) => (t += ms) };
}

describe('runClock', () => {
  it('times each phase, start-up and inputs, and counts child processes and fetches as waiting', async () => {
    const { rt, advance } = fakeRuntime();
    const clock = runClock(rt);
    await clock.phase('builder', async () => {
      await clock.runtime.ensureBuildx();
      await clock.runtime.exec('docker', ['200']);
      advance(100); // our own work, not waiting
    });
    await clock.phase('promotion', async () => {
      await clock.runtime.fetchImpl!('http://127.0.0.1:5000/v2/');
    });
    const scanner = clock.scanner({
      dbSources: () => ({}),
      scan: async (b) => {
        advance(700);
        return { platform: b.platform.id } as never;
      },
    });
    const b: PlatformBuild = {
      platform: parsePlatform('linux/arm64'),
      digest: '',
      pushedDigest: '',
      ref: '',
      seconds: 1.2345,
      size: 0,
      emulated: true,
    };
    await scanner.scan(b);
    const t = clock.finish([b]);
    expect(t).toEqual({
      inputs: 0.2,
      builder: 0.6,
      promotion: 0.05,
      build: { 'linux/arm64': 1.235 },
      scan: { 'linux/arm64': 0.7 },
      // From process start (9000) to 10000 + 300 + 200 + 100 + 50 + 700.
      total: 2.35,
      waiting: 0.55,
    });
  });
});
