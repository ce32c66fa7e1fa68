// A leg record: what one `mode: platform` job leaves for the merge job. Pure:
// the record's shape and guard, its artifact name, and which records of a run
// a merge takes (the newest attempt per platform, only this image's).
import { createHash } from 'node:crypto';
import type { Inputs } from '../model.js';
import { platformSlug } from '../platform.js';
import type { GatedFinding, PlatformScan } from '../scan/gate.js';
import type { Severity } from '../model.js';

export const LEG_RECORD_VERSION = 1;
const SEVERITIES: readonly Severity[] = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface LegBuild {
  digest: string;
  pushedDigest: string;
  size: number;
  emulated: boolean;
}

export interface LegScan {
  counts: Record<Severity, number>;
  passed: boolean;
  /** The findings, the blocking ones (at or above the gate) marked. */
  findings: GatedFinding[];
  /** The SARIF file's content, when `sarif` was asked for. */
  sarif?: string;
  /** The CycloneDX SBOM's content, with `sbom-attach`. */
  sbom?: string;
  /** trivy's JSON report (the `report` of scan-results). */
  report?: string;
}

export interface LegTimings {
  /** Wall seconds of the build (buildx), the scan (trivy), and the whole leg. */
  build: number;
  scan?: number;
  total: number;
  startedAt: string;
}

export interface LegRecord {
  version: typeof LEG_RECORD_VERSION;
  /** imageKey() of the build this leg belongs to. */
  key: string;
  runId: string;
  attempt: number;
  platform: string;
  /** Node's process.arch of the leg's runner. */
  hostArch: string;
  build?: LegBuild;
  /** Why the build failed (no `build` then). */
  buildError?: string;
  scan?: LegScan;
  /** Why the scan could not run (not the gate's verdict). */
  scanError?: string;
  /**
   * PR mode: the manifests and configs of what the leg built (digest -> base64
   * bytes), enough for buildx to compose the manifest list a push would make.
   */
  blobs: Record<string, string>;
  timings: LegTimings;
}

/** Which build the records belong to: image, tags, context, file and `leg-key`. */
export function imageKey(inputs: Pick<Inputs, 'image' | 'tags' | 'context' | 'file' | 'legKey'>): string {
  const material = JSON.stringify([inputs.image, [...inputs.tags].sort(), inputs.context, inputs.file, inputs.legKey]);
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}

const NAME = /^multiarch-leg-([a-f0-9]{16})-(.+)-a(\d+)$/;

/** The artifact a leg record travels in; one per attempt, since artifact names are unique in a run. */
export function legArtifactName(key: string, platformId: string, attempt: number): string {
  return `multiarch-leg-${key}-${platformSlug(parsePlatformId(platformId))}-a${attempt}`;
}

export function parseLegArtifactName(name: string): { key: string; slug: string; attempt: number } | undefined {
  const m = NAME.exec(name);
  return m ? { key: m[1] as string, slug: m[2] as string, attempt: Number(m[3]) } : undefined;
}

function parsePlatformId(id: string): { os: string; arch: string; variant?: string } {
  const [os = '', arch = '', variant] = id.split('/');
  return variant ? { os, arch, variant } : { os, arch };
}

export function serialiseLegRecord(r: LegRecord): string {
  return `${JSON.stringify(r, null, 1)}\n`;
}

class RecordError extends Error {}

function need(cond: boolean, source: string, what: string): asserts cond {
  if (!cond) throw new RecordError(`${source}: not a leg record (${what})`);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function checkFinding(v: unknown, source: string): void {
  need(isObj(v), source, 'a finding is not an object');
  for (const k of ['id', 'package', 'installedVersion', 'fixedVersion', 'target']) need(isStr(v[k]), source, `finding.${k}`);
  need(SEVERITIES.includes(v.severity as Severity), source, 'finding.severity');
  need(typeof v.blocking === 'boolean', source, 'finding.blocking');
}

function checkScan(v: unknown, source: string): void {
  need(isObj(v), source, 'scan');
  need(isObj(v.counts) && SEVERITIES.every((s) => isNum((v.counts as Record<string, unknown>)[s])), source, 'scan.counts');
  need(typeof v.passed === 'boolean', source, 'scan.passed');
  need(Array.isArray(v.findings), source, 'scan.findings');
  for (const f of v.findings as unknown[]) checkFinding(f, source);
  need(v.sarif === undefined || isStr(v.sarif), source, 'scan.sarif');
  need(v.sbom === undefined || isStr(v.sbom), source, 'scan.sbom');
  need(v.report === undefined || isStr(v.report), source, 'scan.report');
}

function checkBuild(v: unknown, source: string): void {
  need(isObj(v), source, 'build');
  need(isStr(v.digest) && DIGEST.test(v.digest), source, 'build.digest');
  need(isStr(v.pushedDigest) && DIGEST.test(v.pushedDigest), source, 'build.pushedDigest');
  need(isNum(v.size) && typeof v.emulated === 'boolean', source, 'build.size/emulated');
}

/** Parses and checks a record; a record of another version or shape is refused. */
export function parseLegRecord(text: string, source: string): LegRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new RecordError(`${source}: not a leg record (not JSON)`);
  }
  need(isObj(v), source, 'not an object');
  need(v.version === LEG_RECORD_VERSION, source, `version ${JSON.stringify(v.version)}, this action reads ${LEG_RECORD_VERSION}`);
  need(isStr(v.key) && isStr(v.runId) && isNum(v.attempt) && isStr(v.platform) && isStr(v.hostArch), source, 'key/runId/attempt/platform');
  need(v.build !== undefined || isStr(v.buildError), source, 'neither build nor buildError');
  if (v.build !== undefined) checkBuild(v.build, source);
  if (v.scan !== undefined) checkScan(v.scan, source);
  need(v.scanError === undefined || isStr(v.scanError), source, 'scanError');
  need(isObj(v.blobs), source, 'blobs');
  for (const [d, b] of Object.entries(v.blobs)) need(DIGEST.test(d) && isStr(b), source, `blob ${d}`);
  need(isObj(v.timings) && isNum(v.timings.build) && isNum(v.timings.total) && isStr(v.timings.startedAt), source, 'timings');
  return v as unknown as LegRecord;
}

/** A leg record as the scan phase's result, for the gate and the report. */
export function legScan(r: LegRecord): PlatformScan | undefined {
  return r.scan ? { platform: r.platform, counts: r.scan.counts, passed: r.scan.passed, findings: r.scan.findings } : undefined;
}

export interface LegSelection {
  /** The newest record of each planned platform that has one, in plan order. */
  legs: LegRecord[];
  /** Planned platforms with no record in this run. */
  missing: string[];
}

/**
 * The records a merge uses: this run and image only, the newest attempt per
 * platform (a re-run leg replaces its failed attempt), planned platforms only.
 */
export function selectLegs(records: readonly LegRecord[], planned: readonly string[], key: string, runId: string): LegSelection {
  const newest = new Map<string, LegRecord>();
  for (const r of records) {
    if (r.key !== key || r.runId !== runId || !planned.includes(r.platform)) continue;
    const seen = newest.get(r.platform);
    if (!seen || r.attempt > seen.attempt) newest.set(r.platform, r);
  }
  return {
    legs: planned.flatMap((p) => (newest.has(p) ? [newest.get(p) as LegRecord] : [])),
    missing: planned.filter((p) => !newest.has(p)),
  };
}
