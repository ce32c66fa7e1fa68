// The action's outputs, computed from the run's report. Pure: main sets them.
import { reportFiles, scanResults } from './scan/results.js';
import type { RunReport } from './summary.js';

/** Every output the report supports, by action.yml name. */
export function outputsOf(r: RunReport): Record<string, string> {
  const out: Record<string, string> = {};
  const platformDigests: Record<string, string> = {};
  for (const b of r.builds) platformDigests[b.platform.id] = b.digest;
  if (r.digest) {
    out.digest = r.digest;
    out.image = `${r.image}@${r.digest}`;
  }
  out['platform-digests'] = JSON.stringify(platformDigests);
  out.metadata = JSON.stringify({
    image: r.image,
    digest: r.digest ?? null,
    pushed: r.pushed,
    tags: r.tags,
    // emulated is null for a node not on this runner: whether it emulates is its own host's business.
    platforms: Object.fromEntries(
      r.builds.map((b) => [
        b.platform.id,
        {
          digest: b.digest,
          emulated: b.remoteNode ? null : b.emulated,
          ...(b.node ? { node: b.node } : {}),
          seconds: b.seconds,
          size: b.size,
          steps: stepsOf(b),
        },
      ]),
    ),
    ...(r.timings ? { timings: r.timings } : {}),
  });
  if (r.scanEnabled) {
    out['scan-results'] = JSON.stringify(scanResults(r.scans));
    out.reports = JSON.stringify(reportFiles(r.scans));
    out['sarif-files'] = JSON.stringify(r.scans.flatMap((s) => (s.sarifFile ? [s.sarifFile] : [])));
  }
  out.promoted = JSON.stringify(r.promoted.filter((p) => p.status === 'written').map((p) => `${p.ref}@${p.digest}`));
  return out;
}

/** A platform's steps for `metadata`: name, seconds (to the millisecond), cached. */
function stepsOf(b: RunReport['builds'][number]): { name: string; seconds: number; cached: boolean }[] {
  return (b.steps ?? []).map((s) => ({ name: s.name, seconds: Math.round(s.seconds * 1000) / 1000, cached: s.cached }));
}
