import { describe, expect, it, test } from '@jest/globals';
import { formatBytes, renderSummary, renderTimeSection, type RunReport } from '../src/summary.js';
import { parsePlatform } from '../src/platform.js';
import type { PlatformScan } from '../src/scan/gate.js';
import type { PlatformBuild } from '../src/model.js';

const AMD64 = 'sha256:c46c198465c8dc9f4150fe7325fd1c6f86f8144b7d31e1d13103f383e4f19edd';
const ARM64 = 'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab';
const INDEX = 'sha256:37fa925fbf0164755c2f274dfb25139d97604d8c6466eb01cd71627fe8a6af57';
const IMAGE = '127.0.0.1:5000/fixture-app';

function build(id: string, digest: string, over: Partial<PlatformBuild> = {}): PlatformBuild {
  return {
    platform: parsePlatform(id),
    digest,
    pushedDigest: digest,
    ref: `${IMAGE}@${digest}`,
    seconds: 12.34,
    size: 1066125,
    emulated: false,
    ...over,
  };
}

function scan(platform: string, over: Partial<PlatformScan> = {}): PlatformScan {
  return { platform, counts: { UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 0, CRITICAL: 0 }, passed: true, findings: [], ...over };
}

function report(over: Partial<RunReport> = {}): RunReport {
  return {
    image: IMAGE,
    pushed: true,
    platforms: ['linux/amd64', 'linux/arm64'],
    builds: [build('linux/amd64', AMD64), build('linux/arm64', ARM64, { emulated: true, seconds: 95.06 })],
    buildFailures: [],
    scanFailures: [],
    scans: [scan('linux/amd64'), scan('linux/arm64', { counts: { UNKNOWN: 0, LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 0 } })],
    scanEnabled: true,
    failOn: 'critical',
    tags: [`${IMAGE}:1.2.3`, `${IMAGE}:latest`],
    promoted: [],
    ...over,
  };
}

/** The markdown table rows (header and separator excluded). */
function rows(md: string): string[] {
  return md.split('\n').filter((l) => l.startsWith('| `'));
}

describe('formatBytes', () => {
  test.each<[number, string]>([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1066125, '1.0 MiB'],
    [1032302, '1008.1 KiB'],
    [5 * 1024 * 1024 + 512 * 1024, '5.5 MiB'],
    [1024 ** 3, '1.0 GiB'],
    [3 * 1024 ** 4, '3072.0 GiB'],
  ])('%d bytes -> %s', (n, want) => {
    expect(formatBytes(n)).toBe(want);
  });
});

describe('renderSummary', () => {
  it('has a row per platform: native or emulated, seconds, digest, size, counts and gate', () => {
    const md = renderSummary(report());
    expect(md.startsWith('## Multi-arch Build, Scan & Promote\n')).toBe(true);
    expect(md).toContain('| Platform | Build | Seconds | Digest | Size | Critical | High | Medium | Low | Unknown | Gate (critical) |');
    expect(rows(md)).toEqual([
      `| \`linux/amd64\` | native | 12.3 | \`${AMD64}\` | 1.0 MiB | 0 | 0 | 1 | 1 | 0 | pass |`,
      `| \`linux/arm64\` | emulated (QEMU) | 95.1 | \`${ARM64}\` | 1.0 MiB | 0 | 1 | 1 | 1 | 0 | pass |`,
    ]);
  });

  it('leaves out the scan columns when scanning is off', () => {
    const md = renderSummary(report({ scanEnabled: false, scans: [] }));
    expect(md).toContain('| Platform | Build | Seconds | Digest | Size |\n| --- | --- | --- | --- | --- |');
    expect(md).not.toContain('Gate');
    expect(rows(md)[0]).toBe(`| \`linux/amd64\` | native | 12.3 | \`${AMD64}\` | 1.0 MiB |`);
  });

  it('shows a failed build with the first line of its error, and a platform that never ran', () => {
    const md = renderSummary(
      report({
        platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
        builds: [build('linux/amd64', AMD64)],
        buildFailures: [{ platform: 'linux/arm64', message: 'build failed (exit code 1); last log lines:\n#9 ERROR: a | b' }],
        scans: [scan('linux/amd64')],
        stoppedBecause: 'linux/arm64: build failed (exit code 1); last log lines:',
      }),
    );
    expect(rows(md)).toEqual([
      `| \`linux/amd64\` | native | 12.3 | \`${AMD64}\` | 1.0 MiB | 0 | 0 | 1 | 1 | 0 | pass |`,
      '| `linux/arm64` | **failed** |  | build failed (exit code 1); last log lines: |  |  |  |  |  |  |  |',
      '| `linux/arm/v7` | not run |  |  |  |  |  |  |  |  |  |',
    ]);
    expect(md).toContain('Nothing was tagged or promoted: linux/arm64: build failed (exit code 1); last log lines:');
    expect(md).not.toContain('**Manifest list**');
  });

  it('escapes a pipe in an error line so the row keeps its columns', () => {
    const md = renderSummary(
      report({ platforms: ['linux/arm64'], builds: [], scans: [], buildFailures: [{ platform: 'linux/arm64', message: 'build failed: a|b' }] }),
    );
    expect(rows(md)[0]).toContain('build failed: a\\|b');
  });

  it('lists what fails the gate under the table, at most ten per platform, with the fix or its absence', () => {
    const findings = Array.from({ length: 12 }, (_, i) => ({
      id: `CVE-2099-${10001 + i}`,
      package: 'busybox',
      installedVersion: '1.36.1-r28',
      fixedVersion: i === 1 ? '' : '1.36.1-r29',
      severity: 'HIGH' as const,
      target: 'x',
      blocking: true,
    }));
    const md = renderSummary(
      report({
        failOn: 'high',
        scans: [
          scan('linux/amd64'),
          scan('linux/arm64', { passed: false, counts: { UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 12, CRITICAL: 0 }, findings }),
        ],
        stoppedBecause: 'vulnerability gate failed for 1 of 2 platform(s):',
      }),
    );
    expect(rows(md)[1]).toMatch(/\| 0 \| 12 \| 0 \| 0 \| 0 \| \*\*fail\*\* \|$/);
    expect(rows(md)[0]).toMatch(/\| pass \|$/);
    expect(md).toContain(
      '**linux/arm64** fails the gate:\n\n- HIGH CVE-2099-10001 in `busybox` 1.36.1-r28 -> 1.36.1-r29\n- HIGH CVE-2099-10002 in `busybox` 1.36.1-r28 -> (no fix)\n',
    );
    expect(md).toContain('CVE-2099-10010');
    expect(md).not.toContain('CVE-2099-10011');
    expect(md).not.toContain('**linux/amd64** fails');
    expect(md).toContain('Nothing was tagged or promoted: vulnerability gate failed for 1 of 2 platform(s):');
  });

  it('names the platforms whose scan report was reused, with when trivy wrote it, and says nothing when none was', () => {
    const md = renderSummary(report({ scans: [scan('linux/amd64', { reusedFrom: '2026-12-07T21:41:42.615Z' }), scan('linux/arm64')] }));
    expect(md).toContain(
      'Scan reports reused (the same digest scanned before by the same trivy with the same DBs and options): linux/amd64 (2026-12-07T21:41:42.615Z)',
    );
    expect(md).not.toContain('linux/arm64 (');
    expect(renderSummary(report({ scans: [scan('linux/amd64'), scan('linux/arm64')] }))).not.toContain('reused');
  });

  it('gives the manifest list digest and its tags when pushed', () => {
    const md = renderSummary(report({ digest: INDEX }));
    expect(md).toContain(`**Manifest list** \`${INDEX}\`\n\nTags:\n\n- \`${IMAGE}:1.2.3\`\n- \`${IMAGE}:latest\`\n`);
    expect(md).not.toContain('not pushed');
    expect(md).not.toContain('No manifest list');
  });

  it('says when the digest was not pushed, and lists no tags when there are none', () => {
    const md = renderSummary(report({ pushed: false, digest: INDEX, tags: [] }));
    expect(md).toContain(`**Manifest list** (not pushed; the digest a push would produce) \`${INDEX}\``);
    expect(md).not.toContain('Tags:');
  });

  it('lists promoted references, marking those already at the digest', () => {
    const md = renderSummary(
      report({
        digest: INDEX,
        promoted: [
          { ref: '127.0.0.1:5001/prod/app:1.2.3', digest: INDEX, status: 'written' },
          { ref: '127.0.0.1:5001/prod/app:stable', digest: INDEX, status: 'unchanged' },
        ],
      }),
    );
    expect(md).toContain('Promoted:\n\n- `127.0.0.1:5001/prod/app:1.2.3`\n- `127.0.0.1:5001/prod/app:stable` (unchanged, already at this digest)\n');
  });

  it('has no promotion section when nothing was promoted, and no size for an unknown size', () => {
    const md = renderSummary(
      report({ builds: [build('linux/amd64', AMD64, { size: 0 })], platforms: ['linux/amd64'], scans: [scan('linux/amd64')] }),
    );
    expect(md).not.toContain('Promoted:');
    expect(rows(md)[0]).toContain(`| \`${AMD64}\` |  | 0 |`);
  });
});

describe('Where the time went', () => {
  const T0 = Date.parse('2026-12-02T00:00:00Z');
  const ran = (name: string, seconds: number) => ({ name, started: T0, completed: T0 + seconds * 1000, seconds, cached: false });
  const cached = (name: string) => ({ name, seconds: 0, cached: true });

  it('lists per platform the build time and its slowest steps, the QEMU factor and the advice', () => {
    const md = renderTimeSection({
      builds: [
        build('linux/amd64', AMD64, { seconds: 50, steps: [ran('[1/2] COPY . .', 0.5), ran('[2/2] RUN make', 45)] }),
        build('linux/arm64', ARM64, { seconds: 420, emulated: true, steps: [ran('[1/2] COPY . .', 0.6), ran('[2/2] RUN make', 412)] }),
      ],
      timings: { build: {}, scan: {}, total: 440 },
    });
    expect(md.slice(0, 6)).toEqual([
      '### Where the time went',
      '',
      '| Platform | Build | Slowest steps |',
      '| --- | --- | --- |',
      '| `linux/amd64` | 50.0 s | `RUN make` 45.0 s, `COPY . .` 0.5 s |',
      '| `linux/arm64` (QEMU) | 420.0 s | `RUN make` 412.0 s, `COPY . .` 0.6 s |',
    ]);
    expect(md).toContain('- `RUN make`  412 s on linux/arm64 (QEMU) vs 45.0 s on linux/amd64: 9.2x');
    expect(md).toContain('**Advice**');
    expect(md.filter((l) => l.startsWith('- ')).length).toBe(4);
  });

  it('gives no factor and no advice for a build with nothing emulated or nothing run', () => {
    const md = renderTimeSection({
      builds: [
        build('linux/amd64', AMD64, { seconds: 1.2, steps: [cached('[1/1] COPY hello.txt /hello.txt')] }),
        build('linux/arm64', ARM64, { seconds: 1.3, emulated: true, steps: [cached('[1/1] COPY hello.txt /hello.txt')] }),
      ],
    });
    expect(md).toContain('| `linux/arm64` (QEMU) | 1.3 s | all cached |');
    expect(md.some((l) => l.startsWith('- '))).toBe(false);
    expect(md).not.toContain('**Advice**');
  });

  it('is left out when no build reported steps', () => {
    expect(renderTimeSection({ builds: [build('linux/amd64', AMD64)] })).toEqual([]);
    expect(renderSummary(report())).not.toContain('Where the time went');
  });

  it('escapes a pipe in a step name inside the table', () => {
    const md = renderTimeSection({ builds: [build('linux/amd64', AMD64, { steps: [ran('[1/1] RUN a | b', 2)] })] });
    expect(md[4]).toContain('`RUN a \\| b` 2.0 s');
  });
});
