// SARIF categories per platform, so code scanning keeps one analysis per
// platform instead of each upload replacing the previous one.
// github/codeql-action's upload-sarif reads the category of a file from
// `runs[].automationDetails.id` (the category followed by `/`).

/** `linux/arm64` -> `trivy/linux-arm64`; `linux/arm/v7` -> `trivy/linux-arm-v7`. */
export function sarifCategory(platformId: string): string {
  const slug = platformId.trim().replace(/\/+/g, '-');
  if (slug === '') throw new Error('sarifCategory: empty platform id');
  return `trivy/${slug}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Sets `runs[].automationDetails.id` to `<category>/` in a SARIF 2.1.0 log and
 * returns the new JSON. Throws when the text is not a SARIF 2.1.0 log with a
 * `runs` array of objects.
 */
export function setSarifCategory(sarifJson: string, category: string): string {
  let log: unknown;
  try {
    log = JSON.parse(sarifJson);
  } catch (err) {
    throw new Error(`not a SARIF file: not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(log)) throw new Error('not a SARIF file: the top level is not an object');
  if (log.version !== '2.1.0') throw new Error(`not a SARIF 2.1.0 file: version is ${JSON.stringify(log.version)}`);
  const runs = log.runs;
  if (!Array.isArray(runs)) throw new Error('not a SARIF 2.1.0 file: `runs` is not an array');
  const id = category.endsWith('/') ? category : `${category}/`;
  runs.forEach((run: unknown, i) => {
    if (!isObject(run)) throw new Error(`not a SARIF 2.1.0 file: runs[${i}] is not an object`);
    const details = isObject(run.automationDetails) ? run.automationDetails : {};
    run.automationDetails = { ...details, id };
  });
  return `${JSON.stringify(log, null, 2)}\n`;
}
