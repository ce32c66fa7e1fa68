// trivy's reports, kept for reuse: a platform whose image digest was scanned
// before, by the same trivy with the same DBs, options, ignore files and TRIVY_*
// settings, gets that scan's report back instead of a new trivy run (a re-run
// of an unchanged image). Anything that could change the findings changes the
// key, so a report is reused only where trivy would write the same one again.
// Kept beside the platform's layer cache, `<trivy cache>/layers/<platform>/reports/<db>/<key>.json`,
// so it travels with it in the Actions cache (src/scan/layer-cache.ts); a new
// DB download starts a new folder and the older ones are removed.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { reportKeys } from './cache-keys.js';
import { errorMessage } from '../util/errors.js';
import { fileExists, fileIdentity } from '../util/files.js';
import { parseReport, type TrivyReport } from '../types/trivy.js';

export interface ReportEntry {
  /** The folder of the current DB's reports. */
  dir: string;
  /** This scan's report, if it was kept. */
  file: string;
}

/** `<layer cache dir>/reports`: a platform's reports, beside its layer cache. */
export function reportsDir(layerDir: string): string {
  return path.join(layerDir, 'reports');
}

async function readOr(file: string, fallback: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => fallback);
}

/** Variables that only grant access (registry logins), never change findings: left out of the key, so no hash of a secret is written. */
const CREDENTIAL = /PASSWORD|TOKEN|SECRET|USERNAME|CREDENTIAL|AUTH/i;

/** The TRIVY_* variables of an environment that can change a report. */
export function trivyVariables(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('TRIVY_') && !CREDENTIAL.test(k) && v !== undefined) out[k] = v;
  return out;
}

/**
 * The files trivy reads from its working directory unless told otherwise
 * (trivy v0.74's flag defaults, or the TRIVY_* variable that moves each): the
 * ignore file (only when the action passes none), the secret scanner's config.
 * Their contents go into the key.
 */
export function trivyOwnFiles(cwd: string, env: Readonly<Record<string, string | undefined>>, explicitIgnore: boolean): string[] {
  return [
    ...(explicitIgnore ? [] : [path.resolve(cwd, env.TRIVY_IGNOREFILE || '.trivyignore')]),
    path.resolve(cwd, env.TRIVY_SECRET_CONFIG || 'trivy-secret.yaml'),
  ];
}

/**
 * Why no report is reused or kept in this working directory and environment,
 * or undefined: a trivy config file, an ignore policy or VEX sources can name
 * other files and repositories whose contents the key cannot see, and the
 * misconfig scanner's checks bundle is updated by trivy itself, so a changed
 * policy or check could otherwise pass a stale report.
 */
export async function reuseRefusal(
  cwd: string,
  env: Readonly<Record<string, string | undefined>>,
  scanners: readonly string[],
): Promise<string | undefined> {
  // trivy fetches the misconfig scanner's checks bundle on its own, and a new bundle can change findings.
  if (scanners.includes('misconfig')) return 'the misconfig scanner uses a checks bundle that trivy updates on its own';
  const config = path.resolve(cwd, env.TRIVY_CONFIG || 'trivy.yaml');
  if (await fileExists(config)) {
    return `trivy reads its config file ${config}, which can name policies and VEX sources the action cannot see change`;
  }
  for (const v of ['TRIVY_IGNORE_POLICY', 'TRIVY_VEX']) if (env[v]) return `${v} is set, and what it names can change without the action seeing it`;
  return undefined;
}

/** What a report's key is made of besides trivy and its DBs. */
export interface KeyParts {
  /** The scan's argv without run-specific paths (see ReportInputs). */
  argv: readonly string[];
  /** trivy's environment (its TRIVY_* variables count). */
  env: Readonly<Record<string, string | undefined>>;
  /** The files trivy reads on its own (trivyOwnFiles): their contents count. */
  files: readonly string[];
}

/**
 * This scan's entry in `reports` (the platform's reports folder): the DBs'
 * metadata read from `cacheDir` (where trivy reads them), trivy identified by
 * its file; undefined when that file cannot be read.
 */
export async function reportEntry(cacheDir: string, reports: string, trivyPath: string, parts: KeyParts): Promise<ReportEntry | undefined> {
  const [vuln, java, trivy, ...files] = await Promise.all([
    readOr(path.join(cacheDir, 'db', 'metadata.json'), ''),
    readOr(path.join(cacheDir, 'java-db', 'metadata.json'), ''),
    fileIdentity(trivyPath),
    ...parts.files.map((f) => readOr(f, '')),
  ]);
  // A trivy that cannot be told apart from another (found on PATH by name) gets no reuse.
  if (!trivy) return undefined;
  const { db, key } = reportKeys({
    argv: parts.argv,
    trivy,
    dbMetadata: `${vuln}\n${java}`,
    env: trivyVariables(parts.env),
    files,
  });
  const dir = path.join(reports, db);
  return { dir, file: path.join(dir, `${key}.json`) };
}

/**
 * The kept report (its text, as trivy's report, and when it was written), or
 * undefined when there is none or it no longer parses (scanned again rather than trusted).
 */
export async function readKeptReport(entry: ReportEntry): Promise<{ text: string; report: TrivyReport; at: Date } | undefined> {
  try {
    const [{ mtime }, text] = await Promise.all([fs.stat(entry.file), fs.readFile(entry.file, 'utf8')]);
    return { text, report: parseReport(text, entry.file), at: mtime };
  } catch {
    return undefined;
  }
}

/**
 * Keeps `report` under the entry (written aside, then renamed: a reader never
 * sees half a report) and removes the folders of other DBs. Returns why it
 * could not, for a note; a report not kept only means the next run scans.
 */
export async function keepReport(entry: ReportEntry, report: string): Promise<string | undefined> {
  try {
    await fs.mkdir(entry.dir, { recursive: true });
    const tmp = `${entry.file}.${process.pid}.${Date.now()}.tmp`;
    await fs.copyFile(report, tmp);
    await fs.rename(tmp, entry.file);
    const parent = path.dirname(entry.dir);
    for (const other of await fs.readdir(parent)) {
      if (other !== path.basename(entry.dir)) await fs.rm(path.join(parent, other), { recursive: true, force: true });
    }
    return undefined;
  } catch (err) {
    return `the report was not kept for reuse: ${errorMessage(err)}`;
  }
}
