// scan-results is also written to a file beside the run's temp dir (kept after
// the post step), so a later step can read it instead of an environment
// variable, which Linux caps at 128 KiB.
import * as fs from 'node:fs';

/** Adds `scan-results-file` to the outputs when there are scan results. */
export function withResultsFile(outputs: Record<string, string>, tempDir: string): Record<string, string> {
  const results = outputs['scan-results'];
  if (results === undefined) return outputs;
  const file = `${tempDir}.scan-results.json`;
  fs.writeFileSync(file, results);
  return { ...outputs, 'scan-results-file': file };
}
