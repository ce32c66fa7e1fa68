// A distributed run with its dependencies passed in: plan, one leg per
// platform, merge, through the fake docker/buildx/trivy of support/fake-exec.ts
// and an in-memory leg store. The merge must give what `mode: all` gives.
import { afterEach, describe, expect, it, jest, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseInputs, type InputEnv } from '../src/context.js';
import { runMode, runPipeline } from '../src/pipeline/run.js';
import type { Runtime } from '../src/pipeline/runtime.js';
import { parseBinfmtEntry } from '../src/qemu/plan.js';
import type { Inputs } from '../src/model.js';
import type { LegStore } from '../src/legs/store.js';
import { parseLegRecord } from '../src/legs/record.js';
import { FAKE_TRIVY, FakeTools, FIXTURE_IMAGE, fixture, type FakeToolsOptions } from './support/fake-exec.js';

// Each test runs several jobs (and `mode: all` to compare with): more than jest's default 5 s on a loaded machine.
jest.setTimeout(30_000);

const CONTEXT = '/src/app';
const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'];

const inputEnv: InputEnv = {
  eventName: 'push',
  exists: (p) => p === CONTEXT || p === `${CONTEXT}/Dockerfile`,
  isDirectory: (p) => p === CONTEXT,
};

function inputs(over: Record<string, string> = {}): Inputs {
  const given: Record<string, string> = {
    context: CONTEXT,
    platforms: PLATFORMS.join(','),
    image: FIXTURE_IMAGE,
    tags: 'multi',
    push: 'true',
    provenance: 'mode=max',
    ...over,
  };
  return parseInputs((name) => given[name] ?? '', inputEnv);
}

/** The artifact service of one workflow run, in memory. */
class MemoryStore implements LegStore {
  readonly api = 'memory';
  readonly files = new Map<string, Buffer>();
  async put(name: string, bytes: Buffer): Promise<void> {
    if (this.files.has(name)) throw new Error(`an artifact named ${name} already exists in this run`);
    this.files.set(name, bytes);
  }
  async list(prefix: string): Promise<{ name: string }[]> {
    return [...this.files.keys()].filter((n) => n.startsWith(prefix)).map((name) => ({ name }));
  }
  async get(leg: { name: string }): Promise<Buffer> {
    return this.files.get(leg.name) as Buffer;
  }
}

interface Job {
  rt: Runtime;
  tools: FakeTools;
  outputs: Record<string, string>;
  summaries: string[];
}

const tempDirs: string[] = [];
afterEach(() => {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** One job of the run: its own temp dir and outputs; the tools (builders, registry) and the store are shared. */
function job(tools: FakeTools, store: LegStore | undefined, env: Record<string, string> = {}): Job {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distribute-'));
  tempDirs.push(tempDir);
  const j: Job = { rt: undefined as unknown as Runtime, tools, outputs: {}, summaries: [] };
  j.rt = {
    exec: tools.exec,
    log: { info: () => undefined, warning: () => undefined, debug: () => undefined, group: (_n, fn) => fn() },
    env: { DOCKER_CONFIG: tempDir, HOME: tempDir, GITHUB_RUN_ID: '4242', GITHUB_RUN_ATTEMPT: '1', ...env },
    now: () => Date.now(),
    tempDir,
    hostArch: 'x64',
    readBinfmt: async () => [
      parseBinfmtEntry('qemu-aarch64', fixture('qemu/binfmt-qemu-aarch64.txt')),
      parseBinfmtEntry('qemu-arm', fixture('qemu/binfmt-qemu-arm.txt')),
    ],
    builderName: `multiarch-${tempDirs.length}`,
    ensureBuildx: async () => undefined,
    ensureTrivy: async () => FAKE_TRIVY,
    setOutput: (n, v) => {
      j.outputs[n] = v;
    },
    writeSummary: async (md) => {
      j.summaries.push(md);
    },
    saveState: () => undefined,
    mask: () => undefined,
    fetchImpl: tools.fetch,
    ...(store ? { legStore: store } : {}),
  };
  return j;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** Runs every leg (except `skip`) in its own job; a leg's failure is its job's failure, not the test's. */
async function legs(tools: FakeTools, store: LegStore, over: Record<string, string> = {}, skip: string[] = []): Promise<Record<string, Job>> {
  const jobs: Record<string, Job> = {};
  for (const p of PLATFORMS.filter((x) => !skip.includes(x))) {
    const j = job(tools, store);
    jobs[p] = j;
    await runMode(inputs({ ...over, mode: 'platform', platform: p }), j.rt).catch(() => undefined);
  }
  return jobs;
}

describe('mode: plan', () => {
  it('outputs the matrix with the default runners, and builds nothing', async () => {
    const tools = new FakeTools();
    const j = job(tools, undefined);
    await runMode(inputs({ mode: 'plan', platforms: 'linux/amd64,linux/arm64,linux/arm/v7,linux/riscv64' }), j.rt);
    expect(JSON.parse(j.outputs.matrix ?? '')).toEqual({
      include: [
        { platform: 'linux/amd64', runner: 'ubuntu-24.04', slug: 'linux-amd64' },
        { platform: 'linux/arm64', runner: 'ubuntu-24.04-arm', slug: 'linux-arm64' },
        { platform: 'linux/arm/v7', runner: 'ubuntu-24.04-arm', slug: 'linux-arm-v7' },
        { platform: 'linux/riscv64', runner: 'ubuntu-24.04', slug: 'linux-riscv64' },
      ],
    });
    expect(tools.builds()).toEqual([]);
    expect(tools.builders.size).toBe(0);
  });

  it('gives a self-hosted label set as a list for runs-on', async () => {
    const j = job(new FakeTools(), undefined);
    await runMode(inputs({ mode: 'plan', runners: 'linux/arm64=[self-hosted, linux, arm64]\n*=big-runner' }), j.rt);
    expect(JSON.parse(j.outputs.matrix ?? '').include.map((e: { runner: unknown }) => e.runner)).toEqual([
      'big-runner',
      ['self-hosted', 'linux', 'arm64'],
      'big-runner',
    ]);
  });

  it('fails on a registry that refuses the credentials, before any leg starts', async () => {
    const tools = new FakeTools({ requireAuth: { username: 'bot', password: 'right' } });
    const j = job(tools, undefined);
    const err = await rejection(
      runMode(inputs({ mode: 'plan', 'registry-auth': '- registry: 127.0.0.1:5000\n  username: bot\n  password: wrong\n' }), j.rt),
    );
    expect(err.message).toContain('127.0.0.1:5000');
    expect(j.outputs.matrix).toBeUndefined();
  });
});

describe('mode: platform then mode: merge', () => {
  it('merges to the manifest list mode: all makes, each leg having built only its platform', async () => {
    const all = job(new FakeTools(), undefined);
    await runPipeline(inputs(), all.rt);

    const tools = new FakeTools();
    const store = new MemoryStore();
    const jobs = await legs(tools, store);
    // Each leg built exactly its own platform, pushed by digest, and tagged nothing.
    expect(tools.builds().map((b) => b.platform)).toEqual(PLATFORMS);
    expect(tools.tags.size).toBe(0);
    for (const [p, j] of Object.entries(jobs)) {
      expect(Object.keys(JSON.parse(j.outputs['platform-digests'] ?? '{}'))).toEqual([p]);
      const meta = JSON.parse(j.outputs.metadata ?? '{}') as { leg: { platform: string; timings: { build: number; total: number } } };
      expect(meta.leg.platform).toBe(p);
      expect(meta.leg.timings.total).toBeGreaterThanOrEqual(meta.leg.timings.build);
      expect(j.outputs.digest).toBeUndefined();
    }
    expect([...store.files.keys()].every((n) => /^multiarch-leg-[a-f0-9]{16}-linux-[a-z0-9-]+-a1$/.test(n))).toBe(true);

    const merge = job(tools, store);
    await runMode(inputs({ mode: 'merge' }), merge.rt);
    for (const out of ['digest', 'platform-digests', 'sarif-files', 'promoted']) expect(merge.outputs[out]).toBe(all.outputs[out]);
    // The same scan results; each trivy report is written again on the merge's runner.
    const noPaths = (j: Job): string => (j.outputs['scan-results'] ?? '').replaceAll(j.rt.tempDir, 'TEMP').replace(/TEMP\/legs\//g, 'TEMP/');
    expect(noPaths(merge)).toBe(noPaths(all));
    expect(tools.tags.get('multi')).toBe(all.tools.tags.get('multi'));
    expect(tools.builds()).toHaveLength(3); // the merge built nothing
    expect(merge.summaries).toHaveLength(1);
  });

  it('fails the merge naming a leg whose build failed; nothing is tagged', async () => {
    const tools = new FakeTools({ failBuild: { 'linux/arm64': { exitCode: 1, lines: ['#9 ERROR: exit code 7'] } } });
    const store = new MemoryStore();
    const jobs = await legs(tools, store);
    expect(jobs['linux/arm64']?.summaries[0]).toContain('**failed**');
    const merge = job(tools, store);
    const err = await rejection(runMode(inputs({ mode: 'merge' }), merge.rt));
    expect(err.message).toMatch(/^linux\/arm64: build failed \(exit code 1\)/);
    expect(err.message).toContain('#9 ERROR: exit code 7');
    expect(tools.tags.size).toBe(0);
    expect(merge.outputs.digest).toBeUndefined();
  });

  it('applies the gate over every leg in the merge', async () => {
    const tools = new FakeTools();
    const store = new MemoryStore();
    await legs(tools, store, { 'fail-on': 'high' });
    const err = await rejection(runMode(inputs({ mode: 'merge', 'fail-on': 'high' }), job(tools, store).rt));
    expect(err.message).toContain('vulnerability gate failed for 1 of 3 platform(s)');
    expect(err.message).toMatch(/linux\/arm64[\s\S]*CVE-/);
    expect(tools.tags.size).toBe(0);
  });

  it('fails the merge naming a planned platform that has no leg record, before making a builder', async () => {
    const tools = new FakeTools();
    const store = new MemoryStore();
    await legs(tools, store, {}, ['linux/arm/v7']);
    const before = tools.builders.size;
    const err = await rejection(runMode(inputs({ mode: 'merge' }), job(tools, store).rt));
    expect(err.message).toMatch(/^linux\/arm\/v7: no leg record in this workflow run/);
    expect(tools.builders.size).toBe(before);
    expect(tools.tags.size).toBe(0);
  });

  it('takes the newest attempt of a re-run leg', async () => {
    const tools = new FakeTools();
    const store = new MemoryStore();
    const failing = new FakeTools({ failBuild: { 'linux/arm64': { exitCode: 1, lines: [] } } });
    await rejection(runMode(inputs({ mode: 'platform', platform: 'linux/arm64' }), job(failing, store).rt));
    await legs(tools, store, {}, ['linux/arm64']);
    expect(await rejection(runMode(inputs({ mode: 'merge' }), job(tools, store).rt))).toHaveProperty(
      'message',
      expect.stringMatching(/^linux\/arm64: build failed/),
    );

    // Attempt 2 re-runs the failed leg, then the merge.
    await runMode(inputs({ mode: 'platform', platform: 'linux/arm64' }), job(tools, store, { GITHUB_RUN_ATTEMPT: '2' }).rt);
    const merge = job(tools, store, { GITHUB_RUN_ATTEMPT: '2' });
    await runMode(inputs({ mode: 'merge' }), merge.rt);
    expect(merge.outputs.digest).toMatch(/^sha256:/);
    expect(store.files.size).toBe(4);
  });

  it('sees no legs of another image in the same run', async () => {
    const tools = new FakeTools();
    const store = new MemoryStore();
    await legs(tools, store, { 'leg-key': 'other' });
    const err = await rejection(runMode(inputs({ mode: 'merge' }), job(tools, store).rt));
    expect(err.message).toContain('linux/amd64, linux/arm64, linux/arm/v7: no leg record');
  });

  it('in PR mode merges to the digest mode: all computes, writing nothing to the registry', async () => {
    const pr = { push: 'false', image: '', tags: '', platforms: 'linux/amd64,linux/arm/v7' };
    const metadata = {
      'linux/amd64': 'buildx/metadata-oci-noattest-linux-amd64.json',
      'linux/arm/v7': 'buildx/metadata-oci-provenance-max-linux-arm-v7.json',
    };
    const all = job(new FakeTools({ metadata }), undefined);
    await runPipeline(inputs(pr), all.rt);

    const tools = new FakeTools({ metadata } as FakeToolsOptions);
    const store = new MemoryStore();
    for (const p of ['linux/amd64', 'linux/arm/v7']) await runMode(inputs({ ...pr, mode: 'platform', platform: p }), job(tools, store).rt);
    // The record carries the manifests and configs, not the layers.
    const record = parseLegRecord((store.files.values().next().value as Buffer).toString(), 'record');
    const top = Buffer.from(record.blobs[record.build?.pushedDigest ?? ''] ?? '', 'base64').toString();
    const layers = (JSON.parse(top) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    expect(layers.length).toBeGreaterThan(0);
    expect(Object.keys(record.blobs).filter((d) => layers.includes(d))).toEqual([]);
    const merge = job(tools, store);
    await runMode(inputs({ ...pr, mode: 'merge' }), merge.rt);
    expect(merge.outputs.digest).toBe(all.outputs.digest);
    expect(tools.requests).toEqual([]);
    expect(tools.manifests.size).toBe(0);
  });
});

describe('a runner without an artifact service', () => {
  test.each(['platform', 'merge'])('fails mode: %s with one line saying so', async (mode) => {
    const over: Record<string, string> = mode === 'platform' ? { mode, platform: 'linux/amd64' } : { mode };
    const err = await rejection(runMode(inputs(over), job(new FakeTools(), undefined).rt));
    expect(err.message).toMatch(/^mode: platform and merge pass leg records through the workflow run artifact service/);
  });
});
