// trivy's reports, kept for reuse: a platform whose image digest was scanned
// before, by the same trivy with the same DBs, options, ignore file and TRIVY_*
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

/** The TRIVY_* variables of an environment. */
export function trivyVariables(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('TRIVY_') && v !== undefined) out[k] = v;
  return out;
}

/**
 * This scan's entry in `reports` (the platform's reports folder): the DBs'
 * metadata read from `cacheDir` (where trivy reads them), trivy identified by
 * its file; undefined when that file cannot be read. `argv` is the scan's argv
 * without run-specific paths (see ReportInputs).
 */
export async function reportEntry(
  cacheDir: string,
  reports: string,
  trivyPath: string,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<ReportEntry | undefined> {
  const [vuln, java, stat] = await Promise.all([
    readOr(path.join(cacheDir, 'db', 'metadata.json'), ''),
    readOr(path.join(cacheDir, 'java-db', 'metadata.json'), ''),
    fs.stat(trivyPath).catch(() => undefined),
  ]);
  // A trivy that cannot be told apart from another (found on PATH by name) gets no reuse.
  if (!stat) return undefined;
  const { db, key } = reportKeys({
    argv,
    trivy: `${trivyPath} ${stat.size} ${stat.mtimeMs}`,
    dbMetadata: `${vuln}\n${java}`,
    env: trivyVariables(env),
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
