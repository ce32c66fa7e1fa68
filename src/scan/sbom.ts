// The per-platform SBOM: trivy's CycloneDX conversion of the scan's own JSON
// report (made with --list-all-pkgs), so the SBOM describes exactly the image
// the gate judged, without a second pull. trivy v0.74.0's conversion leaves
// the report's vulnerabilities out unless asked (`--scanners vuln`); any that
// come along are dropped all the same: the SBOM attached to an image is its
// inventory, which stays true, while findings go stale with the next DB update
// (the JSON report and SARIF hold those).
// CycloneDX 1.6 JSON: https://cyclonedx.org/docs/1.6/json/

export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

export interface SbomComponent {
  name: string;
  version: string;
  purl?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The components (packages) of a CycloneDX JSON document, nested ones included. */
export function sbomComponents(doc: Record<string, unknown>): SbomComponent[] {
  const out: SbomComponent[] = [];
  const walk = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const c of list) {
      if (!isObject(c)) continue;
      if (typeof c.name === 'string') {
        const comp: SbomComponent = { name: c.name, version: typeof c.version === 'string' ? c.version : '' };
        if (typeof c.purl === 'string') comp.purl = c.purl;
        out.push(comp);
      }
      walk(c.components);
    }
  };
  walk(doc.components);
  return out;
}

export interface Sbom {
  /** The document to write and attach. */
  json: string;
  /** Components with a purl (packages, not the OS or the image itself). */
  packages: number;
}

/**
 * Checks trivy's CycloneDX output and drops its `vulnerabilities`. Throws,
 * naming `source`, when it is not a CycloneDX JSON document.
 */
export function sbomFromTrivy(text: string, source: string): Sbom {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source} is not a CycloneDX SBOM: not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(doc) || doc.bomFormat !== 'CycloneDX') throw new Error(`${source} is not a CycloneDX SBOM: bomFormat is not "CycloneDX"`);
  if (typeof doc.specVersion !== 'string') throw new Error(`${source} is not a CycloneDX SBOM: it has no specVersion`);
  delete doc.vulnerabilities;
  const packages = sbomComponents(doc).filter((c) => c.purl !== undefined).length;
  return { json: `${JSON.stringify(doc, null, 2)}\n`, packages };
}
