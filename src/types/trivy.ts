// The parts of trivy's JSON report (`--format json`, SchemaVersion 2) that the
// gate, the summary and the SARIF step read. Mirrors trivy v0.74.0:
//   Report, Metadata, Result   https://github.com/aquasecurity/trivy/blob/v0.74.0/pkg/types/report.go
//   DetectedVulnerability      https://github.com/aquasecurity/trivy/blob/v0.74.0/pkg/types/vulnerability.go
//     (embeds trivy-db's types.Vulnerability: Title, Severity, ...)
//   DetectedSecret             https://github.com/aquasecurity/trivy/blob/v0.74.0/pkg/fanal/types/secret.go (SecretFinding)
//   DetectedMisconfiguration   https://github.com/aquasecurity/trivy/blob/v0.74.0/pkg/types/misconfiguration.go
//   DetectedLicense            https://github.com/aquasecurity/trivy/blob/v0.74.0/pkg/types/license.go
//   OS                         https://github.com/aquasecurity/trivy/blob/v0.74.0/pkg/fanal/types/artifact.go
// trivy writes most fields with `omitempty`/`omitzero`, so an empty report may
// have no Results and a result may have no Vulnerabilities; parseReport fills
// those with empty arrays. Fields we do not read are not typed (and not kept).
import type { Severity } from '../model.js';

export const SEVERITIES: readonly Severity[] = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

export interface TrivyOS {
  Family: string;
  Name: string;
  EOSL?: boolean;
}

export interface TrivyMetadata {
  OS?: TrivyOS;
  ImageID?: string;
  RepoTags: string[];
  RepoDigests: string[];
}

export interface TrivyVulnerability {
  VulnerabilityID: string;
  PkgName: string;
  InstalledVersion: string;
  /** Empty when no fixed version is known. */
  FixedVersion: string;
  Severity: Severity;
  Title?: string;
  PrimaryURL?: string;
  /** e.g. `fixed`, `affected`, `will_not_fix`. */
  Status?: string;
}

export interface TrivySecret {
  RuleID: string;
  Category: string;
  Severity: Severity;
  Title: string;
}

export interface TrivyMisconfiguration {
  ID: string;
  Title: string;
  Severity: Severity;
  /** `PASS`, `FAIL` or `EXCEPTION`; only `FAIL` is a finding. */
  Status: string;
}

export interface TrivyLicense {
  Severity: Severity;
  /** e.g. `forbidden`, `restricted`. */
  Category: string;
  /** Empty for a license found in a file (then FilePath is set). */
  PkgName: string;
  FilePath: string;
  Name: string;
}

export interface TrivyResult {
  Target: string;
  /** `os-pkgs`, `lang-pkgs`, `secret`, `config`, `license`, `license-file`, ... */
  Class: string;
  /** e.g. `alpine`, `debian`, `gomod`, `jar`. */
  Type: string;
  Vulnerabilities: TrivyVulnerability[];
  Secrets: TrivySecret[];
  Misconfigurations: TrivyMisconfiguration[];
  Licenses: TrivyLicense[];
}

export interface TrivyReport {
  SchemaVersion: 2;
  ArtifactName: string;
  /** e.g. `container_image`. */
  ArtifactType: string;
  Metadata: TrivyMetadata;
  Results: TrivyResult[];
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(private readonly source: string) {}

  fail(path: string, what: string): never {
    throw new Error(`malformed trivy report${this.source}: ${path} ${what}`);
  }

  object(value: unknown, path: string): Obj {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'is not an object');
    return value as Obj;
  }

  /** An array that trivy may omit when empty. */
  array(value: unknown, path: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(path, 'is not an array');
    return value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string' || value === '') this.fail(path, 'is missing or not a non-empty string');
    return value;
  }

  /** A string that trivy may omit when empty. */
  optString(value: unknown, path: string): string {
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') this.fail(path, 'is not a string');
    return value;
  }

  strings(value: unknown, path: string): string[] {
    return this.array(value, path).map((v, i) => this.optString(v, `${path}[${i}]`));
  }

  severity(value: unknown, path: string): Severity {
    if (!isSeverity(value)) this.fail(path, `is ${JSON.stringify(value)}, not one of ${SEVERITIES.join(', ')}`);
    return value;
  }
}

/**
 * Parses and validates trivy's JSON report. Throws an Error saying which field
 * is wrong rather than trusting the shape; `source` (e.g. the file name) is
 * put into the message.
 */
export function parseReport(json: string, source = ''): TrivyReport {
  const r = new Reader(source ? ` (${source})` : '');
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`malformed trivy report${source ? ` (${source})` : ''}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  const top = r.object(raw, 'report');
  if (top.SchemaVersion !== 2) {
    r.fail('SchemaVersion', `is ${JSON.stringify(top.SchemaVersion)}; only schema version 2 is understood`);
  }
  const meta = top.Metadata === undefined ? {} : r.object(top.Metadata, 'Metadata');
  const metadata: TrivyMetadata = {
    RepoTags: r.strings(meta.RepoTags, 'Metadata.RepoTags'),
    RepoDigests: r.strings(meta.RepoDigests, 'Metadata.RepoDigests'),
  };
  if (meta.ImageID !== undefined) metadata.ImageID = r.optString(meta.ImageID, 'Metadata.ImageID');
  if (meta.OS !== undefined) {
    const os = r.object(meta.OS, 'Metadata.OS');
    metadata.OS = { Family: r.optString(os.Family, 'Metadata.OS.Family'), Name: r.optString(os.Name, 'Metadata.OS.Name') };
    if (os.EOSL !== undefined) metadata.OS.EOSL = os.EOSL === true;
  }

  const results = r.array(top.Results, 'Results').map((value, i): TrivyResult => {
    const at = `Results[${i}]`;
    const res = r.object(value, at);
    return {
      Target: r.string(res.Target, `${at}.Target`),
      Class: r.optString(res.Class, `${at}.Class`),
      Type: r.optString(res.Type, `${at}.Type`),
      Vulnerabilities: r.array(res.Vulnerabilities, `${at}.Vulnerabilities`).map((v, j) => {
        const p = `${at}.Vulnerabilities[${j}]`;
        const o = r.object(v, p);
        const vuln: TrivyVulnerability = {
          VulnerabilityID: r.string(o.VulnerabilityID, `${p}.VulnerabilityID`),
          PkgName: r.string(o.PkgName, `${p}.PkgName`),
          InstalledVersion: r.optString(o.InstalledVersion, `${p}.InstalledVersion`),
          FixedVersion: r.optString(o.FixedVersion, `${p}.FixedVersion`),
          Severity: r.severity(o.Severity, `${p}.Severity`),
        };
        if (o.Title !== undefined) vuln.Title = r.optString(o.Title, `${p}.Title`);
        if (o.PrimaryURL !== undefined) vuln.PrimaryURL = r.optString(o.PrimaryURL, `${p}.PrimaryURL`);
        if (o.Status !== undefined) vuln.Status = r.optString(o.Status, `${p}.Status`);
        return vuln;
      }),
      Secrets: r.array(res.Secrets, `${at}.Secrets`).map((v, j) => {
        const p = `${at}.Secrets[${j}]`;
        const o = r.object(v, p);
        return {
          RuleID: r.string(o.RuleID, `${p}.RuleID`),
          Category: r.optString(o.Category, `${p}.Category`),
          Severity: r.severity(o.Severity, `${p}.Severity`),
          Title: r.optString(o.Title, `${p}.Title`),
        };
      }),
      Misconfigurations: r.array(res.Misconfigurations, `${at}.Misconfigurations`).map((v, j) => {
        const p = `${at}.Misconfigurations[${j}]`;
        const o = r.object(v, p);
        return {
          ID: r.string(o.ID ?? o.AVDID, `${p}.ID`),
          Title: r.optString(o.Title, `${p}.Title`),
          Severity: r.severity(o.Severity, `${p}.Severity`),
          Status: r.optString(o.Status, `${p}.Status`),
        };
      }),
      Licenses: r.array(res.Licenses, `${at}.Licenses`).map((v, j) => {
        const p = `${at}.Licenses[${j}]`;
        const o = r.object(v, p);
        return {
          Severity: r.severity(o.Severity, `${p}.Severity`),
          Category: r.optString(o.Category, `${p}.Category`),
          PkgName: r.optString(o.PkgName, `${p}.PkgName`),
          FilePath: r.optString(o.FilePath, `${p}.FilePath`),
          Name: r.optString(o.Name, `${p}.Name`),
        };
      }),
    };
  });

  return {
    SchemaVersion: 2,
    ArtifactName: r.optString(top.ArtifactName, 'ArtifactName'),
    ArtifactType: r.optString(top.ArtifactType, 'ArtifactType'),
    Metadata: metadata,
    Results: results,
  };
}
