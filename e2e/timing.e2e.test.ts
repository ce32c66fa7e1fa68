// Where the time went, end to end: the real buildx's rawjson progress read into
// per-step timings, the QEMU factor of an emulation-heavy RUN step against its
// native run, the advice (and none for examples/hello), steps and phase timings
// in `metadata`; and the real Debian-based example scanned from its dpkg database.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, errorLines, runAction, type ActionRun } from './harness.js';
import { actionInputs, bed, uniqueRepo } from './testbed.js';

const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'];

interface Metadata {
  platforms: Record<string, { emulated: boolean; steps: { name: string; seconds: number; cached: boolean }[] }>;
  timings: { build: Record<string, number>; scan: Record<string, number>; [phase: string]: unknown };
}

function metadata(run: ActionRun): Metadata {
  return JSON.parse(run.outputs.metadata ?? '{}') as Metadata;
}

function expectPassed(run: ActionRun): void {
  if (run.exitCode !== 0) throw new Error(`the action failed: ${errorLines(run).join('\n')}\n${run.log.split('\n').slice(-40).join('\n')}`);
}

/**
 * A FROM-scratch busybox image whose RUN step is a CPU-bound shell loop (a
 * million rounds: 500000 took 6.7 and 8.1 s under QEMU on a quiet machine,
 * under the threshold, so the case failed there): about
 * 2-5 s natively here, 8-10 times that under QEMU (see FACTS: 1.9 s vs 14.9 s
 * and 18.9 s for a shorter loop), so well over the advisor's 10 s threshold.
 */
function emulationContext(dir: string): void {
  fs.cpSync(path.join(bed.contexts, 'vulnapp', 'busybox'), path.join(dir, 'busybox'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    [
      'FROM scratch',
      'ARG TARGETARCH',
      'ARG TARGETVARIANT',
      'COPY busybox/${TARGETARCH}${TARGETVARIANT}/busybox /bin/busybox',
      'ARG NONCE=0',
      'RUN ["/bin/busybox", "sh", "-c", "echo $NONCE > /nonce; i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done"]',
      '',
    ].join('\n'),
  );
}

describe('an emulation-heavy build for three platforms', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timing-e2e-'));
  let run: ActionRun;
  beforeAll(() => {
    emulationContext(dir);
    run = runAction(actionInputs(uniqueRepo('timing'), { context: dir, 'build-args': `NONCE=${Date.now()}`, scan: 'false' }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names the RUN step in the summary with its QEMU and native seconds and the factor', () => {
    expectPassed(run);
    expect(run.summary).toContain('### Where the time went');
    for (const p of ['linux/arm64', 'linux/arm/v7']) {
      const line = run.summary.split('\n').find((l) => l.startsWith('- `RUN ') && l.includes(` on ${p} (QEMU) vs `));
      expect(line).toMatch(
        new RegExp(`^- \`RUN \\["/bin/busybox", .*\` {2}[\\d.]+ s on ${p.replace(/\//g, '\\/')} \\(QEMU\\) vs [\\d.]+ s on linux/amd64: [\\d.]+x$`),
      );
      const [, emulated, native, factor] = /\s([\d.]+) s on .* vs ([\d.]+) s on .*: ([\d.]+)x$/.exec(line ?? '') ?? [];
      expect(Number(factor)).toBeCloseTo(Number(emulated) / Number(native), 0);
      expect(Number(factor)).toBeGreaterThan(2);
    }
  });

  it('gives the advice, with the two ways out, in the summary and the log', () => {
    expect(run.summary).toContain('**Advice**');
    expect(run.summary).toMatch(/^- Emulation is where the time went: RUN steps under QEMU took [\d.]+ s on linux\/(arm64|arm\/v7)/m);
    expect(run.summary).toContain('`FROM --platform=$BUILDPLATFORM`');
    expect(run.summary).toContain('`distribute: true`');
    expect(run.log).toMatch(/^advice: Emulation is where the time went/m);
    // A few lines, not a report.
    expect(run.log.split('\n').filter((l) => /^(time|advice): /.test(l)).length).toBeLessThanOrEqual(5);
  });

  it('carries every platform steps and the phase timings in metadata', () => {
    const m = metadata(run);
    for (const p of PLATFORMS) {
      const run = m.platforms[p]?.steps.find((s) => s.name.startsWith('[2/2] RUN'));
      expect(run).toMatchObject({ cached: false });
      expect(run?.seconds).toBeGreaterThan(0);
      expect(m.timings.build[p]).toBeGreaterThanOrEqual(run?.seconds ?? 0);
    }
    for (const phase of ['inputs', 'registries', 'builder', 'qemu', 'index', 'promotion', 'total', 'waiting'])
      expect(typeof m.timings[phase]).toBe('number');
  });

  it('keeps the build log readable: plain-style lines, no JSON', () => {
    expect(run.log).toMatch(/^\[linux\/arm64\] #\d+ \[2\/2\] RUN /m);
    expect(run.log).toMatch(/^\[linux\/arm64\] #\d+ DONE \d+\.\ds$/m);
    expect(run.log).not.toMatch(/^\[linux\/[^\]]+\] \{"vertexes"/m);
  });
});

describe('examples/hello', () => {
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(actionInputs(uniqueRepo('timing-hello'), { context: path.join(ROOT, 'examples/hello'), scan: 'false' }));
  });

  it('gets the time table, no factor and no advice', () => {
    expectPassed(run);
    expect(run.summary).toContain('### Where the time went');
    expect(run.summary).not.toContain('(QEMU) vs');
    expect(run.summary).not.toContain('**Advice**');
    expect(run.log).not.toMatch(/^advice: /m);
  });

  it('carries steps and phase timings for every platform', () => {
    const m = metadata(run);
    for (const p of PLATFORMS) {
      expect(m.platforms[p]?.steps.some((s) => s.name.includes('COPY hello.txt'))).toBe(true);
      expect(typeof m.timings.build[p]).toBe('number');
    }
  });
});

describe('the real Debian-based example (examples/go-cross) for three platforms', () => {
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(
      actionInputs(uniqueRepo('timing-debian'), {
        context: path.join(ROOT, 'examples/go-app'),
        file: path.join(ROOT, 'examples/go-cross/Dockerfile'),
        // The advisory is MEDIUM: at fail-on medium it blocks, so scan-results lists it per platform.
        'fail-on': 'medium',
      }),
    );
  });

  it('reports the debian 12 fixture advisory on every platform, from the real dpkg database', () => {
    expect(run.exitCode).not.toBe(0);
    expect(errorLines(run).join('\n')).toContain('CVE-2099-10005');
    const results = JSON.parse(run.outputs['scan-results'] ?? '{}') as Record<
      string,
      { findings: { id: string; package: string; installedVersion: string }[] }
    >;
    for (const p of PLATFORMS) {
      const finding = results[p]?.findings.find((f) => f.id === 'CVE-2099-10005');
      expect(finding?.package).toBe('base-files');
      expect(finding?.installedVersion).toMatch(/^12\.4\+deb12u\d+$/);
    }
    const m = metadata(run);
    for (const p of PLATFORMS) expect(typeof m.timings.scan[p]).toBe('number');
  });
});
