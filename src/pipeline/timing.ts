// The run's clock: how long each phase took (the `metadata` output's
// `timings`), and how much of the run was spent waiting on child processes and
// registry transfers, on the runtime's own clock (`rt.now()`). run.ts wraps
// each phase in `phase(...)`; the runtime it hands the phases counts waits.
import type { Exec } from '../exec.js';
import type { PhaseTimings, PlatformBuild } from '../model.js';
import type { Runtime } from './runtime.js';
import type { Scanner } from './scan.js';
import { createHttpFetch, type HttpFetch } from '../registry/http.js';

export type PhaseName = 'registries' | 'builder' | 'qemu' | 'index' | 'promotion';

/** Milliseconds covered by the union of [start, end) intervals (overlapping waits count once). */
export function unionMs(intervals: readonly (readonly [number, number])[]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of sorted) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total;
}

function secs(ms: number): number {
  return Math.round(ms) / 1000;
}

export interface RunClock {
  /** The runtime the phases get: its exec, fetch and installers count as waiting. */
  runtime: Runtime;
  phase<T>(name: PhaseName, fn: () => Promise<T>): Promise<T>;
  /** Wraps a scanner so each platform's scan is timed. */
  scanner(s: Scanner): Scanner;
  /** Seconds of each platform's scan so far. */
  scanSeconds(): Record<string, number>;
  /** The timings so far, with each build's time, the total and the waiting time. */
  finish(builds: readonly PlatformBuild[]): PhaseTimings;
}

export function runClock(rt: Runtime): RunClock {
  const start = rt.now();
  const timings: PhaseTimings = { build: {}, scan: {} };
  if (rt.started) timings.inputs = secs(start - rt.started.main);
  const waits: [number, number][] = [];
  const waiting = async <T>(p: () => Promise<T>): Promise<T> => {
    const t0 = rt.now();
    try {
      return await p();
    } finally {
      waits.push([t0, rt.now()]);
    }
  };
  const exec: Exec = (cmd, args, opts) => waiting(() => rt.exec(cmd, args, opts));
  const baseFetch = rt.fetchImpl ?? createHttpFetch();
  const fetchImpl: HttpFetch = (url, init) => waiting(() => baseFetch(url, init));
  const runtime: Runtime = {
    ...rt,
    exec,
    fetchImpl,
    ensureBuildx: () => waiting(() => rt.ensureBuildx()),
    ensureTrivy: () => waiting(() => rt.ensureTrivy()),
  };
  return {
    runtime,
    async phase(name, fn) {
      const t0 = rt.now();
      try {
        return await fn();
      } finally {
        timings[name] = secs(rt.now() - t0);
      }
    },
    scanner(s) {
      return {
        dbSources: () => s.dbSources(),
        async scan(build) {
          const t0 = rt.now();
          try {
            return await s.scan(build);
          } finally {
            timings.scan[build.platform.id] = secs(rt.now() - t0);
          }
        },
      };
    },
    scanSeconds: () => ({ ...timings.scan }),
    finish(builds) {
      for (const b of builds) timings.build[b.platform.id] = Math.round(b.seconds * 1000) / 1000;
      const end = rt.now();
      timings.total = secs(end - (rt.started?.process ?? start));
      timings.waiting = secs(unionMs(waits));
      return { ...timings, build: { ...timings.build }, scan: { ...timings.scan } };
    },
  };
}
