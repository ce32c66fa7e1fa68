// Faults on the registries, each with a fixed seed through the test bed's
// fault proxy: the action retries what is worth retrying, gives up within a
// bound naming the request and registry, and a failure leaves no tag of its own.
import { afterAll, describe, expect, it } from '@jest/globals';
import { errorLines, runAction, runActionAsync } from './harness.js';
import { startFaultProxy, type FaultProxy } from './support/faultproxy.js';
import { actionInputs, bed, getManifest, listTags, uniqueRepo } from './testbed.js';

const proxies: FaultProxy[] = [];
async function proxy(o: Parameters<typeof startFaultProxy>[0]): Promise<FaultProxy> {
  const p = await startFaultProxy(o);
  proxies.push(p);
  return p;
}
afterAll(async () => {
  for (const p of proxies) await p.stop();
});

const authFor = (registry: string): string => `- registry: ${registry}\n  username: ${bed.authUser}\n  password: ${bed.authPassword}\n`;
/** One platform, no scan: the promotion path is what is under test. */
const quick = (repo: string, extra: Record<string, string> = {}): Record<string, string> =>
  actionInputs(repo, { platforms: 'linux/amd64', scan: 'false', tags: '1.0', ...extra });

describe('a stalled registry B', () => {
  it('gives up within the bound (5 attempts of registry-timeout), names the stalled request and registry, and tags nothing', async () => {
    const pb = await proxy({ upstream: bed.authRegistry, seed: 7, rate: 1, faults: ['stall'], kinds: ['manifest-put'], stallSeconds: 60 });
    const repo = uniqueRepo('stall');
    const target = uniqueRepo('stall-dst');
    const run = runAction(quick(repo, { 'promote-to': `${pb.addr}/${target}:1.0`, 'registry-auth': authFor(pb.addr), 'registry-timeout': '2' }));
    expect(run.exitCode).not.toBe(0);
    const message = errorLines(run).join('\n');
    expect(message).toMatch(new RegExp(`PUT /v2/${target}/manifests/sha256:[0-9a-f]{64} on ${pb.addr} stalled for 2 s`));
    expect(message).toContain('after 5 attempt(s)');
    expect(run.seconds).toBeLessThan(90);
    expect(await listTags(bed.registry, repo)).toEqual([]);
    expect(await listTags(bed.authRegistry, target)).toEqual([]);
  }, 180_000);
});

describe('resets and truncated bodies on reads', () => {
  it.each([
    ['reset after the response head', 'reset-mid-body', 11],
    ['a truncated body', 'truncate', 12],
  ])(
    '%s is retried and the promotion completes',
    async (_name, fault, seed) => {
      const pb = await proxy({ upstream: bed.authRegistry, seed, rate: 0.5, faults: [fault], kinds: ['manifest-get', 'ping'] });
      const repo = uniqueRepo('reads');
      const target = uniqueRepo('reads-dst');
      const run = runAction(quick(repo, { 'promote-to': `${pb.addr}/${target}:1.0`, 'registry-auth': authFor(pb.addr) }));
      expect(errorLines(run)).toEqual([]);
      expect(pb.requests().filter((r) => r.fault === fault).length).toBeGreaterThan(0);
      expect(run.stdout).toMatch(/(UND_ERR_SOCKET|terminated|other side closed|ECONNRESET|UND_ERR_RES_CONTENT_LENGTH_MISMATCH), retrying in/);
      expect((await getManifest(bed.authRegistry, target, '1.0'))?.digest).toBe(run.outputs.digest);
    },
    180_000,
  );
});

describe('a 500 on every attempt of one tag PUT, after another tag was written', () => {
  it('rolls back the tag already written, and the message says what was written and what was not', async () => {
    const target = uniqueRepo('half-dst');
    // The first run puts the content (and tag 1.0) in B, so the second copies nothing and only writes tags.
    const first = runAction(
      quick(uniqueRepo('half-1'), { 'promote-to': `${bed.authRegistry}/${target}:1.0`, 'registry-auth': authFor(bed.authRegistry) }),
    );
    expect(first.exitCode).toBe(0);
    const pb = await proxy({ upstream: bed.authRegistry, seed: 3, rate: 1, faults: ['500'], kinds: ['manifest-put'] });
    const repo = uniqueRepo('half-2');
    const run = runAction(quick(repo, { tags: '2.0', 'promote-to': `${pb.addr}/${target}:2.0`, 'registry-auth': authFor(pb.addr) }));
    expect(run.outputs.digest).toBeUndefined();
    const message = errorLines(run).join('\n');
    const d = first.outputs.digest;
    expect(message).toContain(`cannot write ${pb.addr}/${target}:2.0: ${pb.addr} answered HTTP 500 (UNAVAILABLE) after 5 attempts`);
    expect(message).toContain(
      `wrote: none; not written: ${pb.addr}/${target}:2.0; rolled back: ${bed.registry}/${repo}:2.0 (deleted with its manifest ${d})`,
    );
    expect(message).toContain(`manifest list ${d} was deleted again`);
    expect(await listTags(bed.registry, repo)).toEqual([]);
    expect(await listTags(bed.authRegistry, target)).toEqual(['1.0']);
    expect(run.summary).toContain('rolled back:');
  }, 240_000);
});

describe('cancellation (SIGTERM to main, then post)', () => {
  it.each([
    ['during the builds', '\\[command\\].*buildx.* build '],
    // The phase's group opens just before buildx composes the list and it is pushed.
    ['during the index push', '^::group::Manifest list$'],
    ['during promotion', '^copying sha256:'],
  ])(
    '%s: no tags in A or B, the builder and the temp dir removed',
    async (_name, when) => {
      // B stalls on manifest PUTs, so a promotion is still in flight when the signal comes.
      const pb = await proxy({ upstream: bed.authRegistry, seed: 5, rate: 1, faults: ['stall'], kinds: ['manifest-put'], stallSeconds: 60 });
      const repo = uniqueRepo('cancel');
      const target = uniqueRepo('cancel-dst');
      const run = await runActionAsync(
        quick(repo, { 'promote-to': `${pb.addr}/${target}:1.0`, 'registry-auth': authFor(pb.addr), 'registry-timeout': '10' }),
        {
          signalWhen: when,
        },
      );
      expect(run.signalledAt).toBeDefined();
      expect(run.exitCode).not.toBe(0);
      expect(run.stdout).toContain('SIGTERM received: cancelling the run');
      expect(errorLines(run).join('\n')).toMatch(/cancelled/);
      expect(run.seconds - (run.signalledAt ?? 0)).toBeLessThan(20);
      expect(await listTags(bed.registry, repo)).toEqual([]);
      expect(await listTags(bed.authRegistry, target)).toEqual([]);
      // The builder goes as main ends; the post step runs on a cancelled job (post-if) and removes the temp dir.
      const builder = /created builder (\S+) \(/.exec(run.stdout)?.[1];
      expect(builder).toMatch(/^multiarch-/);
      const state = JSON.parse(run.state['multiarch-state'] ?? '{}') as { builder?: string; tempDir?: string };
      expect(run.post).toMatchObject({ ran: true, exitCode: 0 });
      const { execFileSync } = await import('node:child_process');
      expect(execFileSync('docker', ['buildx', 'ls'], { encoding: 'utf8' })).not.toContain(builder ?? '?');
      const fs = await import('node:fs');
      expect(fs.existsSync(state.tempDir ?? '/nonexistent')).toBe(false);
    },
    180_000,
  );
});

describe('two runs at once, same image and tags, different build args', () => {
  it("each tag points at one run's whole index, and each run's summary says what it wrote", async () => {
    const repo = uniqueRepo('race');
    const target = uniqueRepo('race-dst');
    const base = quick(repo, { tags: '1.0', 'promote-to': `${bed.authRegistry}/${target}:1.0`, 'registry-auth': authFor(bed.authRegistry) });
    const [x, y] = await Promise.all([
      runActionAsync({ ...base, 'build-args': 'FAIL_ARCH=race-x' }),
      runActionAsync({ ...base, 'build-args': 'FAIL_ARCH=race-y' }),
    ]);
    expect(errorLines(x)).toEqual([]);
    expect(errorLines(y)).toEqual([]);
    expect(x.outputs.digest).not.toBe(y.outputs.digest);
    for (const [registry, r] of [
      [bed.registry, repo],
      [bed.authRegistry, target],
    ] as const) {
      const m = await getManifest(registry, r, '1.0');
      expect([x.outputs.digest, y.outputs.digest]).toContain(m?.digest);
      for (const c of m?.json.manifests ?? []) expect((await getManifest(registry, r, c.digest))?.digest).toBe(c.digest);
    }
    // Neither run skipped its write as unchanged because of the other: each wrote its own digest.
    for (const run of [x, y]) {
      expect(JSON.parse(run.outputs.promoted ?? '[]')).toEqual([`${bed.authRegistry}/${target}:1.0@${run.outputs.digest}`]);
      expect(run.stdout).not.toContain('unchanged');
    }
  }, 300_000);
});

describe('the trivy DB under faults', () => {
  it('a failing first mirror falls back to the next, and the summary says which one served', async () => {
    const bad = await proxy({ upstream: bed.registry, seed: 9, rate: 1, faults: ['500'] });
    const dbRepo = bed.trivyDbRepository;
    const run = runAction(
      actionInputs(uniqueRepo('dbmirror'), {
        platforms: 'linux/amd64',
        push: 'false',
        'trivy-db-repository': `${dbRepo.replace(bed.registry, bad.addr)}\n${dbRepo}`,
      }),
    );
    expect(errorLines(run)).toEqual([]);
    expect(run.summary).toContain(`trivy vulnerability DB from \`${dbRepo}\``);
    expect(run.stdout).toContain(`trying ${dbRepo}`);
    // A mirror with another after it is not run again: the next one is its retry.
    expect(run.stdout).not.toMatch(/vulnerability DB from .* attempt 1 failed/);
  }, 180_000);

  it('the only mirror answering 503 is retried at 2 s, then 4 s, then it is a clear error naming it', async () => {
    const bad = await proxy({ upstream: bed.registry, seed: 10, rate: 1, faults: ['503'] });
    const dbRepo = bed.trivyDbRepository.replace(bed.registry, bad.addr);
    const run = runAction(actionInputs(uniqueRepo('dbfail'), { platforms: 'linux/amd64', push: 'false', 'trivy-db-repository': dbRepo }));
    expect(run.exitCode).not.toBe(0);
    const retries = run.stdout.split('\n').filter((l) => l.includes(`trivy's vulnerability DB from ${dbRepo} attempt`));
    expect(retries.map((l) => / attempt (\d) failed .*retrying in (\d) s$/.exec(l)?.slice(1, 3).join(' '))).toEqual(['1 2', '2 4']);
    expect(errorLines(run).join('\n')).toContain(`could not get trivy's vulnerability DB from ${dbRepo}`);
  }, 180_000);
});
