// The scan inputs: whether to run trivy, what counts as a failure, and where
// trivy, its database and the SARIF reports come from and go. Pure: the
// filesystem comes in through InputEnv.
import { parseReference } from '../reference.js';
import type { FailOn, Inputs, Severity } from '../model.js';
import { fail, tryOr } from './error.js';
import { parseHttpUrl, parseVersion, q, type InputEnv, type InputReader } from './values.js';

export type ScanInputs = Pick<
  Inputs,
  | 'scan'
  | 'severity'
  | 'failOn'
  | 'ignoreUnfixed'
  | 'trivyignores'
  | 'scanners'
  | 'trivyVersion'
  | 'trivyBaseUrl'
  | 'trivyDbRepositories'
  | 'trivyJavaDbRepositories'
  | 'trivyCacheDir'
  | 'sarif'
  | 'sbomAttach'
>;

const SEVERITIES: Severity[] = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
const FAIL_ON: FailOn[] = ['critical', 'high', 'medium', 'low', 'none'];
const SCANNERS = ['vuln', 'secret', 'misconfig', 'license'];

/** scan, severity, fail-on (against severity), ignore-unfixed, trivyignores, scanners, trivy-*, sarif. */
export function parseScanInputs(r: InputReader, env: InputEnv): ScanInputs {
  const scan = r.bool('scan');
  const severity = parseSeverity(r.list('severity'), r.read('severity'));
  const failOn = r.line('fail-on').toLowerCase() as FailOn;
  if (!FAIL_ON.includes(failOn)) fail('fail-on', `${q(r.read('fail-on'))} is not one of ${FAIL_ON.join(', ')}`);
  if (scan && failOn !== 'none') {
    const needed = SEVERITIES.slice(SEVERITIES.indexOf(failOn.toUpperCase() as Severity));
    const missing = needed.filter((s) => !severity.includes(s));
    if (missing.length > 0) {
      fail(
        'fail-on',
        `${q(failOn)} needs ${missing.join(', ')} in severity (severity is ${q(severity.join(','))}), or those findings would pass unseen`,
      );
    }
  }
  const ignoreUnfixed = r.bool('ignore-unfixed');
  const trivyignores = r.list('trivyignores');
  trivyignores.forEach((p) => r.file('trivyignores', p));
  const scanners = parseScanners(r.list('scanners'), r.read('scanners'));
  const trivyVersion = parseVersion('trivy-version', r.line('trivy-version'), '');
  const trivyBaseUrl = parseHttpUrl('trivy-base-url', r.line('trivy-base-url'));
  const trivyDbRepositories = parseRepositoryList(r, 'trivy-db-repository');
  const trivyJavaDbRepositories = parseRepositoryList(r, 'trivy-java-db-repository');
  const trivyCacheDir = r.line('trivy-cache-dir');
  const sarif = r.line('sarif');
  if (sarif !== '' && !scan) fail('sarif', `${q(sarif)} is set but scan is false, so there is nothing to write`);
  if (sarif !== '' && env.exists(sarif) && !env.isDirectory(sarif)) fail('sarif', `${q(sarif)} exists and is not a directory`);
  const sbomAttach = r.bool('sbom-attach');
  if (sbomAttach && !scan) fail('sbom-attach', 'is true but scan is false; the SBOM is made from the scan');

  return {
    scan,
    severity,
    failOn,
    ignoreUnfixed,
    trivyignores,
    scanners,
    trivyVersion,
    trivyBaseUrl,
    trivyDbRepositories,
    trivyJavaDbRepositories,
    trivyCacheDir,
    sarif,
    sbomAttach,
  };
}

/** An ordered mirror list: one image reference per line (or comma), each checked, no repeats. */
function parseRepositoryList(r: InputReader, name: string): string[] {
  const list: string[] = [];
  for (const item of r.list(name)) {
    tryOr(name, () => parseReference(item), `${q(item)} is not a valid image reference: `);
    if (list.includes(item)) fail(name, `${q(item)} is listed twice`);
    list.push(item);
  }
  return list;
}

function parseSeverity(items: string[], raw: string): Severity[] {
  if (items.length === 0) fail('severity', `${q(raw)} lists no severity`);
  const given = new Set<Severity>();
  for (const item of items) {
    const s = item.toUpperCase() as Severity;
    if (!SEVERITIES.includes(s)) fail('severity', `${q(item)} is not one of ${SEVERITIES.join(', ')}`);
    given.add(s);
  }
  return SEVERITIES.filter((s) => given.has(s));
}

function parseScanners(items: string[], raw: string): string[] {
  if (items.length === 0) fail('scanners', `${q(raw)} lists no scanner`);
  const scanners: string[] = [];
  for (const item of items) {
    const s = item.toLowerCase();
    if (!SCANNERS.includes(s)) fail('scanners', `${q(item)} is not one of ${SCANNERS.join(', ')}`);
    if (!scanners.includes(s)) scanners.push(s);
  }
  return scanners;
}
