// The scan inputs: whether to run trivy, what counts as a failure, and where
// trivy, its database and the SARIF reports come from and go. Pure: the
// filesystem comes in through InputEnv.
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { parseReference } from '../reference.js';
import { isYamlIgnoreFile } from '../scan/args.js';
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
  const trivyignores = parseTrivyignores(r, env);
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

/** The sections of trivy's YAML ignore file (trivy.dev, "Filtering": .trivyignore.yaml). */
const YAML_IGNORE_KEYS = ['vulnerabilities', 'misconfigurations', 'secrets', 'licenses'];

/**
 * Every listed file must exist and be read now, not at scan time, after the
 * pushes. trivy takes one --ignorefile, so several plain files are merged into
 * one; a YAML file cannot be merged with others and must be listed alone.
 */
function parseTrivyignores(r: InputReader, env: InputEnv): string[] {
  const paths = r.list('trivyignores');
  paths.forEach((p) => r.file('trivyignores', p));
  const yaml = paths.filter(isYamlIgnoreFile);
  if (yaml.length > 0 && paths.length > 1) {
    fail(
      'trivyignores',
      `${q(yaml[0] ?? '')} is a YAML ignore file, which cannot be merged with the others (trivy takes one --ignorefile): list it alone, with the other entries moved into it`,
    );
  }
  if (env.readFile) {
    for (const p of paths) {
      const text = tryOr('trivyignores', () => env.readFile?.(p) ?? '', `${q(p)} cannot be read: `);
      if (isYamlIgnoreFile(p)) checkYamlIgnoreFile(p, text);
    }
  }
  return paths;
}

function checkYamlIgnoreFile(p: string, text: string): void {
  const doc = parseDocument(text, { logLevel: 'silent' });
  const err = doc.errors[0];
  if (err) fail('trivyignores', `${q(p)} is not valid YAML (line ${text.slice(0, err.pos[0]).split('\n').length})`);
  if (doc.contents === null) return;
  if (!isMap(doc.contents)) fail('trivyignores', `${q(p)} is not a YAML mapping of ${YAML_IGNORE_KEYS.join(', ')}`);
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!YAML_IGNORE_KEYS.includes(key))
      fail('trivyignores', `${q(p)} has an unknown section ${q(key)} (trivy reads ${YAML_IGNORE_KEYS.join(', ')})`);
    const list = pair.value;
    if (list === null || list === undefined || (isScalar(list) && list.value === null)) continue;
    if (!isSeq(list)) fail('trivyignores', `${q(p)}: ${key} is not a list`);
    list.items.forEach((item, i) => {
      if (!isMap(item) || !item.has('id')) fail('trivyignores', `${q(p)}: ${key} entry ${i + 1} has no id`);
    });
  }
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
