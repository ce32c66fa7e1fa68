// Bootstrap images through an ordered mirror list: the first mirror of the
// buildkit image and of the binfmt image is a fault proxy that fails every
// request (rate 1), registry A is second. One short docker-container run with
// the qemu-aarch64 handler removed: both images are pulled (retried, then the
// fallback), the builder and the registration use the one that served, and
// the log and summary say so. The handler is restored in afterAll.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { startFaultProxy, type FaultProxy } from './support/faultproxy.js';
import { actionInputs, bed, getManifest, uniqueRepo } from './testbed.js';

const HANDLER = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
/** The image's path on registry A, served through the proxy instead. */
const viaProxy = (p: FaultProxy, image: string): string => image.replace(bed.registry, p.addr);

describe('bootstrap images: a first mirror that fails, registry A second', () => {
  let proxy: FaultProxy;
  let run: ActionRun;
  let summary = '';
  const repo = uniqueRepo('bootstrap');

  beforeAll(async () => {
    proxy = await startFaultProxy({ upstream: bed.registry, seed: 21, rate: 1, faults: ['503'], maxSeconds: 240 });
    try {
      if (fs.existsSync(HANDLER)) fs.writeFileSync(HANDLER, '-1');
      run = runAction(
        actionInputs(repo, {
          platforms: 'linux/arm64',
          scan: 'false',
          driver: 'docker-container',
          endpoint: '',
          'driver-opts': 'network=host',
          'buildkitd-config': bed.buildkitdConfig,
          'buildkit-image': `${viaProxy(proxy, bed.buildkitImage)}\n${bed.buildkitImage}`,
          qemu: 'auto',
          'qemu-image': `${viaProxy(proxy, bed.binfmtImage)}\n${bed.binfmtImage}`,
        }),
      );
      summary = run.summary ?? '';
    } finally {
      await proxy.stop();
    }
  }, 300_000);

  afterAll(() => {
    // Leave the host as the test bed made it (binfmt-support's entry), whatever the action did.
    if (fs.existsSync(HANDLER)) fs.writeFileSync(HANDLER, '-1');
    execFileSync('update-binfmts', ['--enable', 'qemu-aarch64']);
  });

  it('succeeds: the build ran under QEMU registered by the run, in a builder of the buildkit image that served', async () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(fs.readFileSync(HANDLER, 'utf8')).toMatch(/^enabled/);
    expect((await getManifest(bed.registry, repo, '1.0.0'))?.digest).toBe(run.outputs.digest);
  });

  it('retried the failing mirror, fell back to registry A, and says which one served, in the log and the summary', () => {
    const first = viaProxy(proxy, bed.buildkitImage);
    expect(run.stdout).toContain(`docker pull ${first} attempt 1 failed (`);
    expect(run.stdout).toContain(`${first} did not serve the buildkit image`);
    expect(run.stdout).toContain(`the buildkit image served by ${bed.buildkitImage} (1 of 2 before it failed)`);
    expect(run.stdout).toContain(`the binfmt image served by ${bed.binfmtImage} (1 of 2 before it failed)`);
    expect(run.stdout).toContain(`registering aarch64 with ${bed.binfmtImage}`);
    expect(proxy.requests().filter((r) => r.fault === '503').length).toBeGreaterThan(0);
    expect(proxy.requests().every((r) => r.upstream !== true)).toBe(true);
    expect(summary).toContain(`Bootstrap images pulled: buildkit image \`${bed.buildkitImage}\`; binfmt image \`${bed.binfmtImage}\``);
  });
});
