// trivy's DB kept in the Actions cache between workflow runs, through a real
// cache service (act's, in host mode): the cache client is loaded from a
// chunk of the bundle of its own only when the service is there, so this is
// also the proof that the chunk loads.
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

  const act = (): Run => {
    fs.rmSync(trivyCache, { recursive: true, force: true });
    const vars = {
      CONTEXT: path.join(bed.contexts, 'vulnapp'),
      IMAGE: `${bed.registry}/${uniqueRepo('actions-cache')}`,
      TRIVY_DB_REPOSITORY: bed.trivyDbRepository,
      TRIVY_CACHE: trivyCache,
      BUILDX_ENDPOINT: bed.buildkitEndpoint,
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
    runs.push(act(), act());
  });

  const failed = (r: Run): string => (r.exitCode === 0 ? '' : r.output.split('\n').slice(-40).join('\n'));

  it('the first run finds no DB in the cache, downloads it and saves it', () => {
    const [first] = runs as [Run];
    expect({ exitCode: first.exitCode, tail: failed(first) }).toEqual({ exitCode: 0, tail: '' });
    expect(first.output).toMatch(/no trivy DB in the Actions cache for trivy-db-[0-9a-f]+-\*/);
    expect(first.output).toMatch(/saved the trivy DB to the Actions cache \(trivy-db-[0-9a-f]+-\d{4}-\d{2}-\d{2}\)/);
  });

  it('the next run restores it from the cache, saves nothing, and scans both platforms with it', () => {
    const second = runs[1] as Run;
    expect({ exitCode: second.exitCode, tail: failed(second) }).toEqual({ exitCode: 0, tail: '' });
    expect(second.output).toMatch(/restored the trivy DB from the Actions cache \(trivy-db-[0-9a-f]+-\d{4}-\d{2}-\d{2}\)/);
    expect(second.output).not.toContain('saved the trivy DB to the Actions cache');
    expect(second.output).toMatch(/linux\/amd64: .*gate none: pass/);
    expect(second.output).toMatch(/linux\/arm64: .*gate none: pass/);
    expect(fs.existsSync(path.join(trivyCache, 'db', 'metadata.json'))).toBe(true);
  });
});
