// trivy's DB and each platform's layer cache kept in the Actions cache
// between workflow runs, through a real cache service (act's, in host mode):
// the cache client is loaded from a chunk of the bundle of its own only when
// the service is there, so this is also the proof that the chunk loads.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './harness.js';
import { bed, uniqueRepo } from './testbed.js';

interface Run {
  exitCode: number;
  output: string;
}

describe("trivy's DB in the Actions cache, on a runner that starts with an empty trivy cache", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'actions-cache-'));
  const cacheServer = path.join(work, 'cache-server');
  // The same path every run (as a hosted runner's tool cache is), emptied before each.
  const trivyCache = path.join(work, 'trivy-cache');
  const actionTree = path.join(work, 'action');
  const runs: Run[] = [];
  // One repository for every run: a re-run pushes the same digests there.
  const image = `${bed.registry}/${uniqueRepo('actions-cache')}`;

  const act = (buildArgs = ''): Run => {
    fs.rmSync(trivyCache, { recursive: true, force: true });
    const vars = {
      CONTEXT: path.join(bed.contexts, 'vulnapp'),
      IMAGE: image,
      TRIVY_DB_REPOSITORY: bed.trivyDbRepository,
      TRIVY_CACHE: trivyCache,
      BUILDX_ENDPOINT: bed.buildkitEndpoint,
      BUILD_ARGS: buildArgs,
    };
    const r = spawnSync(
      'act',
      [
        'workflow_dispatch',
        '-W',
        'e2e/workflows/db-cache.yml',
        '-P',
        'ubuntu-latest=-self-hosted',
        '--cache-server-addr',
        '127.0.0.1',
        '--cache-server-path',
        cacheServer,
        '--local-repository',
        `OWNER/multiarch-build-scan-promote@main=${actionTree}`,
        ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`]),
      ],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ACT_DISABLE_VERSION_CHECK: '1' }, maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60 * 1000 },
    );
    return { exitCode: r.status ?? -1, output: `${r.stdout}\n${r.stderr}` };
  };

  beforeAll(() => {
    for (const f of ['action.yml', 'package.json', 'dist']) fs.cpSync(path.join(ROOT, f), path.join(actionTree, f), { recursive: true });
    // The same image twice, then a changed one (its RUN step's argument).
    runs.push(act(), act(), act('FAIL_ARCH=nobody'));
  });

  const failed = (r: Run): string => (r.exitCode === 0 ? '' : r.output.split('\n').slice(-40).join('\n'));

  it('the first run finds no DB in the cache, downloads it and saves it', () => {
    const [first] = runs as [Run];
    expect({ exitCode: first.exitCode, tail: failed(first) }).toEqual({ exitCode: 0, tail: '' });
    expect(first.output).toMatch(/no trivy DB in the Actions cache for trivy-db-[0-9a-f]+-\*/);
    expect(first.output).toMatch(/saved the trivy DB to the Actions cache \(trivy-db-[0-9a-f]+-\d{4}-\d{2}-\d{2}\)/);
  });

  it('the next run restores it from the cache, saves nothing, and judges both platforms with it', () => {
    const second = runs[1] as Run;
    expect({ exitCode: second.exitCode, tail: failed(second) }).toEqual({ exitCode: 0, tail: '' });
    expect(second.output).toMatch(/restored the trivy DB from the Actions cache \(trivy-db-[0-9a-f]+-\d{4}-\d{2}-\d{2}\)/);
    expect(second.output).not.toContain('saved the trivy DB to the Actions cache');
    expect(second.output).toMatch(/linux\/amd64: .*gate none: pass/);
    expect(second.output).toMatch(/linux\/arm64: .*gate none: pass/);
    expect(fs.existsSync(path.join(trivyCache, 'db', 'metadata.json'))).toBe(true);
  });

  /** `linux/amd64` -> the layer-cache key a run's log names for it, with what it did. */
  const layerKeys = (r: Run, did: 'restored' | 'saved'): Record<string, string> => {
    const re = new RegExp(
      `(linux/[a-z0-9]+): ${did === 'restored' ? 'restored' : 'saved'} trivy's layer cache (?:from|to) the Actions cache \\((trivy-layers-[a-z0-9-]+)\\)`,
      'g',
    );
    return Object.fromEntries([...r.output.matchAll(re)].map((m) => [m[1], m[2]]));
  };

  it("the first run finds no layer cache for either platform and saves each platform's under its image", () => {
    const [first] = runs as [Run];
    expect(first.output).toContain('linux/amd64: no layer cache in the Actions cache for trivy-layers-linux-amd64-*');
    expect(first.output).toContain('linux/arm64: no layer cache in the Actions cache for trivy-layers-linux-arm64-*');
    expect(Object.keys(layerKeys(first, 'saved')).sort()).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it("a re-run of the same image restores each platform's own entry and uploads nothing", () => {
    const [first, second] = runs as [Run, Run];
    expect(Object.keys(layerKeys(second, 'restored')).sort()).toEqual(['linux/amd64', 'linux/arm64']);
    expect(layerKeys(second, 'restored')).toEqual(layerKeys(first, 'saved'));
    expect(layerKeys(second, 'saved')).toEqual({});
    for (const slug of ['linux-amd64', 'linux-arm64']) expect(fs.existsSync(path.join(trivyCache, 'layers', slug, 'fanal', 'fanal.db'))).toBe(true);
  });

  it("a re-run of the same image gets each platform's report back with its entry: no trivy scan runs", () => {
    const [first, second, third] = runs as [Run, Run, Run];
    expect(first.output).toContain('trivy image --image-src remote --platform linux/amd64');
    expect(first.output).not.toContain('no new scan');
    for (const p of ['linux/amd64', 'linux/arm64'])
      expect(second.output).toMatch(new RegExp(`${p}: no new scan: the report trivy wrote at \\S+ for sha256:[0-9a-f]{64} is reused`));
    expect(second.output).not.toContain('trivy image --image-src remote');
    // A changed image is scanned.
    expect(third.output).toContain('trivy image --image-src remote --platform linux/amd64');
    expect(third.output).not.toContain('no new scan');
  });

  it("a changed image starts from the platform's newest entry and is saved under a key of its own", () => {
    const [first, , third] = runs as [Run, Run, Run];
    expect({ exitCode: third.exitCode, tail: failed(third) }).toEqual({ exitCode: 0, tail: '' });
    expect(layerKeys(third, 'restored')).toEqual(layerKeys(first, 'saved'));
    const saved = layerKeys(third, 'saved');
    expect(Object.keys(saved).sort()).toEqual(['linux/amd64', 'linux/arm64']);
    for (const [p, key] of Object.entries(saved)) expect(key).not.toBe(layerKeys(first, 'saved')[p]);
  });
});
