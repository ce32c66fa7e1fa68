// `make demo`: runs the bundled action on examples/hello against the test
// bed's registry A, then prints the manifest-list digest (checked against what
// the registry returns for the tag), the per-platform digests and the path of
// the job summary.
import { errorLines, ROOT, runAction } from './runner.mjs';
import * as path from 'node:path';

const registry = process.env.TESTBED_REGISTRY;
const endpoint = process.env.TESTBED_BUILDKIT_ENDPOINT;
if (!registry || !endpoint) {
  console.error('demo: source .testbed/env first (make demo does this)');
  process.exit(2);
}
const image = `${registry}/demo/hello`;
const run = runAction(
  {
    context: path.join(ROOT, 'examples/hello'),
    platforms: 'linux/amd64,linux/arm64,linux/arm/v7',
    image,
    tags: 'demo',
    driver: 'remote',
    endpoint,
    'trivy-db-repository': process.env.TESTBED_TRIVY_DB_REPOSITORY ?? '',
  },
  { eventName: 'push' },
);
if (run.exitCode !== 0) {
  console.error(run.stdout.split('\n').slice(-40).join('\n'));
  console.error(`demo: the action failed: ${errorLines(run).join('\n')}`);
  process.exit(1);
}
const res = await fetch(`http://${registry}/v2/demo/hello/manifests/demo`, {
  method: 'HEAD',
  headers: { Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json' },
});
const registryDigest = res.headers.get('docker-content-digest');
const digest = run.outputs.digest;
console.log(`manifest list:  ${image}:demo`);
console.log(`digest:         ${digest}`);
console.log(`registry says:  ${registryDigest} (${registryDigest === digest ? 'matches' : 'DIFFERS'})`);
console.log('platform digests:');
for (const [platform, d] of Object.entries(JSON.parse(run.outputs['platform-digests'] ?? '{}'))) console.log(`  ${platform.padEnd(14)} ${d}`);
console.log(`job summary:    ${run.summaryFile}`);
console.log(`took:           ${run.seconds.toFixed(1)} s`);
process.exit(registryDigest === digest ? 0 : 1);
