// The job summary: per platform how it was built and scanned, then the manifest
// list, its tags and where it was promoted. Rendering is pure; main writes it.
import { blockingFindings, type PlatformScan } from './scan/gate.js';
import type { PhaseTimings, PlatformBuild, Severity } from './model.js';
import { describeWrites, type WriteReport } from './promote/ledger.js';
import { comparisonLine, timeReport } from './advisor.js';
import { stepLabel } from './buildx/progress.js';

export interface PromotionRow {
  ref: string;
  digest: string;
  status: 'written' | 'unchanged';
}

export interface RunReport {
  image: string;
  pushed: boolean;
  platforms: string[];
  builds: PlatformBuild[];
  buildFailures: { platform: string; message: string }[];
  /** Platforms built whose scan could not run. */
  scanFailures: { platform: string; message: string }[];
  scans: PlatformScan[];
  scanEnabled: boolean;
  failOn: string;
  digest?: string;
  tags: string[];
  promoted: PromotionRow[];
  /** Why the run stopped before the index, when it did. */
  stoppedBecause?: string;
  /** Which repository served each trivy DB the run fetched. */
  dbSources?: { vulnerability?: string; java?: string };
  /** Which image served each bootstrap pull (the buildkit image, the binfmt image). */
  bootstrap?: { buildkit?: string; binfmt?: string };
  /** What the tag & promote phase wrote, did not write and undid. */
  writes?: WriteReport;
  /** SBOM referrers pushed, per platform. */
  sboms?: { platform: string; digest: string }[];
  /** Seconds per phase (the run clock's). */
  timings?: PhaseTimings;
}

const SEVERITIES: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  // Compare what will be printed, so 1048575 B is 1.0 MiB, not 1024.0 KiB.
  while (Number(v.toFixed(1)) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** native, emulated (QEMU) on this runner, or built on a node elsewhere that emulates (or not) on its own. */
function buildKind(b: PlatformBuild): string {
  if (b.remoteNode) return 'remote node';
  return b.emulated ? 'emulated (QEMU)' : 'native';
}

export function renderSummary(r: RunReport): string {
  const out: string[] = ['## Multi-arch Build, Scan & Promote', ''];
  // Which node built each platform, once a builder node is known for any.
  const nodes = r.builds.some((b) => b.node !== undefined);
  const header = ['Platform', 'Build', ...(nodes ? ['Node'] : []), 'Seconds', 'Digest', 'Size'];
  if (r.scanEnabled) header.push(...SEVERITIES.map((s) => s[0] + s.slice(1).toLowerCase()), `Gate (${r.failOn})`);
  out.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
  for (const platform of r.platforms) {
    const build = r.builds.find((b) => b.platform.id === platform);
    const failure = r.buildFailures.find((f) => f.platform === platform);
    const scan = r.scans.find((s) => s.platform === platform);
    const row = [
      `\`${platform}\``,
      build ? buildKind(build) : failure ? '**failed**' : 'not run',
      ...(nodes ? [build?.node ? `\`${build.node}\`${build.remoteNode ? ' (not on this runner)' : ''}` : ''] : []),
      build ? build.seconds.toFixed(1) : '',
      build ? `\`${build.digest}\`` : failure ? cell(failure.message.split('\n')[0] ?? '') : '',
      build && build.size > 0 ? formatBytes(build.size) : '',
    ];
    if (r.scanEnabled) {
      row.push(...SEVERITIES.map((s) => (scan ? String(scan.counts[s]) : '')));
      const scanFailed = r.scanFailures.some((f) => f.platform === platform);
      row.push(scan ? (scan.passed ? 'pass' : '**fail**') : scanFailed ? '**scan failed**' : '');
    }
    out.push(`| ${row.join(' | ')} |`);
  }
  out.push('');
  const failing = r.scans.filter((s) => !s.passed);
  for (const s of failing) {
    out.push(`**${s.platform}** fails the gate:`, '');
    for (const f of blockingFindings(s).slice(0, 10)) {
      out.push(`- ${f.severity} ${f.id} in \`${f.package}\` ${f.installedVersion} -> ${f.fixedVersion || '(no fix)'}`);
    }
    out.push('');
  }
  const boot = r.bootstrap ?? {};
  const served = [boot.buildkit ? `buildkit image \`${boot.buildkit}\`` : '', boot.binfmt ? `binfmt image \`${boot.binfmt}\`` : ''].filter((s) => s);
  if (served.length) out.push(`Bootstrap images pulled: ${served.join('; ')}`, '');
  const db = r.dbSources ?? {};
  if (db.vulnerability) out.push(`trivy vulnerability DB from \`${db.vulnerability}\`${db.java ? `; Java DB from \`${db.java}\`` : ''}`, '');
  const reused = r.scans.filter((s) => s.reusedFrom);
  if (reused.length) {
    out.push(
      `Scan reports reused (the same digest scanned before by the same trivy with the same DBs and options): ${reused.map((s) => `${s.platform} (${s.reusedFrom})`).join(', ')}`,
      '',
    );
  }
  const withMore = r.scans.filter((s) => s.findings.some((f) => !f.blocking));
  if (withMore.length) {
    out.push(
      `Findings that do not block (fail-on ${r.failOn}): ${withMore.map((s) => `${s.platform} ${s.findings.filter((f) => !f.blocking).length}`).join(', ')}`,
      '',
    );
  }
  if (r.sboms?.length) out.push('SBOMs attached (CycloneDX, OCI referrers):', '', ...r.sboms.map((s) => `- \`${s.platform}\` \`${s.digest}\``), '');
  if (r.digest) {
    out.push(`**Manifest list** ${r.pushed ? '' : '(not pushed; the digest a push would produce) '}\`${r.digest}\``, '');
    if (r.tags.length) out.push('Tags:', '', ...r.tags.map((t) => `- \`${t}\``), '');
  } else if (r.stoppedBecause && r.writes?.wrote.length) {
    out.push(`Tag & promote failed: ${r.stoppedBecause}`, '', `Left written (could not be undone): ${describeWrites(r.writes)}`, '');
  } else if (r.stoppedBecause) {
    out.push(`Nothing was tagged or promoted: ${r.stoppedBecause}`, '');
    if (r.writes && (r.writes.rolledBack.length || r.writes.notWritten.length)) out.push(describeWrites(r.writes), '');
  }
  if (r.promoted.length) {
    out.push(
      'Promoted:',
      '',
      ...r.promoted.map((p) => `- \`${p.ref}\` ${p.status === 'unchanged' ? '(unchanged, already at this digest)' : ''}`.trimEnd()),
      '',
    );
  }
  out.push(...renderTimeSection(r));
  return out.join('\n');
}

function code(s: string): string {
  return `\`${s.replace(/`/g, "'")}\``;
}

/** "Where the time went": per platform its build time and slowest steps, QEMU factors, advice. */
export function renderTimeSection(r: Pick<RunReport, 'builds' | 'timings'>): string[] {
  const withSteps = r.builds.filter((b) => b.steps?.length);
  if (!withSteps.length) return [];
  const t = timeReport(withSteps, r.timings?.total);
  const out = ['### Where the time went', '', '| Platform | Build | Slowest steps |', '| --- | --- | --- |'];
  for (const p of t.platforms) {
    const steps = p.slowest.map((s) => `${cell(code(stepLabel(s.name)))} ${s.seconds.toFixed(1)} s`).join(', ');
    out.push(`| \`${p.platform}\`${p.emulated ? ' (QEMU)' : ''} | ${p.seconds.toFixed(1)} s | ${steps || 'all cached'} |`);
  }
  out.push('');
  if (t.comparisons.length) out.push(...t.comparisons.map((c) => `- ${comparisonLine({ ...c, step: code(c.step) })}`), '');
  if (t.advice.length) out.push('**Advice**', '', ...t.advice.map((a) => `- ${a}`), '');
  return out;
}

/** The same, for the log: the QEMU factors and the advice, a few lines at most. */
export function timeLogLines(r: Pick<RunReport, 'builds' | 'timings'>): string[] {
  const withSteps = r.builds.filter((b) => b.steps?.length);
  if (!withSteps.length) return [];
  const t = timeReport(withSteps, r.timings?.total);
  return [...t.comparisons.map((c) => `time: ${comparisonLine(c)}`), ...t.advice.map((a) => `advice: ${a}`)];
}
