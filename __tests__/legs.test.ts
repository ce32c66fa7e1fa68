// Leg records (shape, guard, names, which a merge takes), the distribute
// inputs, and the artifact-service store against an in-process fake of the
// results API as act's artifact server answers it.
import { describe, expect, it, test } from '@jest/globals';
import { parseInputs, type InputEnv } from '../src/context.js';
import {
  imageKey,
  legArtifactName,
  parseLegArtifactName,
  parseLegRecord,
  selectLegs,
  serialiseLegRecord,
  type LegRecord,
} from '../src/legs/record.js';
import { backendIds, isGhes, pipelinesStore, resultsStore, runnerLegStore } from '../src/legs/store.js';
import { planMatrix } from '../src/pipeline/plan.js';
import { parseModeInputs } from '../src/inputs/mode.js';
import { inputReader, type InputReader } from '../src/inputs/values.js';
import type { Inputs } from '../src/model.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

function record(over: Partial<LegRecord> = {}): LegRecord {
  return {
    version: 1,
    key: 'a'.repeat(16),
    runId: '7',
    attempt: 1,
    platform: 'linux/arm64',
    hostArch: 'arm64',
    build: { digest: D('1'), pushedDigest: D('2'), size: 10, emulated: false },
    scan: {
      counts: { UNKNOWN: 0, LOW: 1, MEDIUM: 0, HIGH: 1, CRITICAL: 0 },
      passed: false,
      findings: [{ id: 'CVE-2099-1', package: 'busybox', installedVersion: '1', fixedVersion: '2', severity: 'HIGH', target: 't', blocking: true }],
      sarif: '{}',
    },
    blobs: { [D('2')]: Buffer.from('{}').toString('base64') },
    timings: { build: 1.5, scan: 0.5, total: 3, startedAt: '2026-12-02T00:00:00.000Z' },
    ...over,
  };
}

describe('leg records', () => {
  it('read back as written', () => {
    const r = record();
    expect(parseLegRecord(serialiseLegRecord(r), 'x')).toEqual(r);
    const failed = record({ build: undefined, scan: undefined, buildError: 'build failed (exit code 1)', blobs: {} });
    delete failed.build;
    delete failed.scan;
    expect(parseLegRecord(serialiseLegRecord(failed), 'x')).toEqual(failed);
  });

  test.each([
    ['not JSON', 'nope', 'not JSON'],
    ['another version', JSON.stringify({ ...record(), version: 2 }), 'version 2, this action reads 1'],
    [
      'a digest that is not one',
      JSON.stringify(record({ build: { digest: 'sha256:xyz', pushedDigest: D('2'), size: 1, emulated: false } })),
      'build.digest',
    ],
    ['neither a build nor an error', JSON.stringify({ ...record(), build: undefined }), 'neither build nor buildError'],
    [
      'a finding of no severity',
      JSON.stringify(record({ scan: { ...record().scan!, findings: [{ ...record().scan!.findings[0]!, severity: 'BAD' as 'HIGH' }] } })),
      'finding.severity',
    ],
    ['a blob under no digest', JSON.stringify(record({ blobs: { x: 'y' } })), 'blob x'],
    ['no timings', JSON.stringify({ ...record(), timings: {} }), 'timings'],
  ])('refuse %s', (_name, text, why) => {
    expect(() => parseLegRecord(text, 'multiarch-leg-x')).toThrow(`multiarch-leg-x: not a leg record (${why})`);
  });

  it('are named per image, platform and attempt', () => {
    const name = legArtifactName('0123456789abcdef', 'linux/arm/v7', 2);
    expect(name).toBe('multiarch-leg-0123456789abcdef-linux-arm-v7-a2');
    expect(parseLegArtifactName(name)).toEqual({ key: '0123456789abcdef', slug: 'linux-arm-v7', attempt: 2 });
    expect(parseLegArtifactName('something-else')).toBeUndefined();
  });

  it('keep two images, or two builds of one image, apart', () => {
    const base = { image: 'r/app', tags: ['r/app:1', 'r/app:latest'], context: '.', file: 'Dockerfile', legKey: '' };
    expect(imageKey(base)).toMatch(/^[a-f0-9]{16}$/);
    expect(imageKey({ ...base, tags: ['r/app:latest', 'r/app:1'] })).toBe(imageKey(base));
    for (const other of [{ image: 'r/other' }, { tags: ['r/app:2'] }, { context: 'sub' }, { file: 'Other' }, { legKey: 'debug' }]) {
      expect(imageKey({ ...base, ...other })).not.toBe(imageKey(base));
    }
  });
});

describe('selectLegs', () => {
  const planned = ['linux/amd64', 'linux/arm64'];
  it('takes the newest attempt per platform, and names the planned platforms with none', () => {
    const old = record({ attempt: 1, buildError: 'x' });
    const rerun = record({ attempt: 2 });
    const s = selectLegs([rerun, old], [...planned, 'linux/arm/v7'], 'a'.repeat(16), '7');
    expect(s.legs).toEqual([rerun]);
    expect(s.missing).toEqual(['linux/amd64', 'linux/arm/v7']);
  });

  it('ignores records of another image, another run, or an unplanned platform', () => {
    const s = selectLegs(
      [record({ key: 'b'.repeat(16) }), record({ runId: '8' }), record({ platform: 'linux/s390x' }), record({ platform: 'linux/amd64' })],
      planned,
      'a'.repeat(16),
      '7',
    );
    expect(s.legs.map((l) => l.platform)).toEqual(['linux/amd64']);
    expect(s.missing).toEqual(['linux/arm64']);
  });
});

describe('the distribute inputs', () => {
  const env: InputEnv = { eventName: 'push', exists: () => true, isDirectory: (p) => p === '.' };
  const parse = (given: Record<string, string>): Inputs => parseInputs((n) => ({ image: 'r/app', tags: '1', ...given })[n] ?? '', env);

  it('default to mode all and the default runners', () => {
    const i = parse({ platforms: 'linux/amd64,linux/386,linux/arm64,linux/arm/v7,linux/arm/v6,linux/ppc64le' });
    expect(i.mode).toBe('all');
    expect(planMatrix(i).include.map((e) => `${e.platform}=${String(e.runner)}`)).toEqual([
      'linux/amd64=ubuntu-24.04',
      'linux/386=ubuntu-24.04',
      'linux/arm64=ubuntu-24.04-arm',
      'linux/arm/v7=ubuntu-24.04-arm',
      'linux/arm/v6=ubuntu-24.04-arm',
      'linux/ppc64le=ubuntu-24.04',
    ]);
  });

  it('read the leg platform in its canonical form', () => {
    expect(parse({ mode: 'platform', platform: 'linux/aarch64', platforms: 'linux/amd64,linux/arm64' }).platform?.id).toBe('linux/arm64');
  });

  it('take runner labels and JSON label lists', () => {
    const i = parse({ runners: 'linux/amd64=["self-hosted", "x64"]\nlinux/arm64 = my-arm.large' });
    expect(i.runners.map((r) => r.runner)).toEqual([['self-hosted', 'x64'], 'my-arm.large']);
  });

  test.each([
    [{ mode: 'everything' }, 'mode: "everything" is not one of all, plan, platform, merge'],
    [{ mode: 'platform' }, 'platform: is required when mode is platform'],
    [{ mode: 'platform', platform: 'linux/s390x' }, 'platform: "linux/s390x" is not one of platforms (linux/amd64, linux/arm64)'],
    [{ platform: 'linux/amd64' }, 'platform: is only used with mode: platform (mode is all)'],
    [{ runners: 'linux/amd64' }, 'runners: "linux/amd64" is not platform=runner-label'],
    [{ runners: 'linux/s390x=big' }, 'runners: "linux/s390x" is not one of platforms'],
    [{ runners: 'linux/amd64=a\nlinux/amd64=b' }, 'runners: "linux/amd64" is given twice'],
    [{ runners: 'linux/amd64=two words' }, 'runners: "two words" is not a runner label'],
    [{ runners: 'linux/amd64=[self-hosted, {a: 1}]' }, 'runners: "[self-hosted, {a: 1}]" is not a list of runner labels'],
    [{ runners: 'linux/amd64=[]' }, 'runners: "[]" is not a list of runner labels'],
    [{ 'leg-key': 'a/b' }, 'leg-key: "a/b" may hold only'],
  ])('refuse %j', (given, message) => {
    expect(() => parse({ platforms: 'linux/amd64,linux/arm64', ...given })).toThrow(message);
  });

  it('refuse more legs than a job matrix holds, only when distributing', () => {
    const platforms = Array.from({ length: 257 }, (_, n) => ({ os: 'linux', arch: `arch${n}`, id: `linux/arch${n}` }));
    const reader = (mode: string): InputReader => inputReader((n) => (n === 'mode' ? mode : ''), env);
    expect(() => parseModeInputs(reader('plan'), platforms)).toThrow(
      'platforms: 257 platforms; a distributed run makes one job per platform and a job matrix holds at most 256',
    );
    expect(parseModeInputs(reader('all'), platforms).runners).toHaveLength(257);
    expect(parseModeInputs(reader('plan'), platforms.slice(1)).runners).toHaveLength(256);
  });
});

/** The results API as act v0.2.87's artifact server answers it (protojson, camelCase), blobs by block. */
function fakeResults(): { fetch: typeof fetch; stored: Map<string, Buffer>; calls: string[] } {
  const stored = new Map<string, Buffer>();
  const staged = new Map<string, Buffer>();
  const calls: string[] = [];
  const impl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const method = url.pathname.split('/').pop() ?? '';
    calls.push(`${init?.method ?? 'GET'} ${method}${url.searchParams.get('comp') ? `?comp=${url.searchParams.get('comp')}` : ''}`);
    const body = typeof init?.body === 'string' && method !== 'UploadArtifact' ? (JSON.parse(init.body) as Record<string, unknown>) : {};
    const name = String(body.name ?? url.searchParams.get('artifactName') ?? '');
    const signed = (endp: string): string => `http://127.0.0.1:1/twirp/x/${endp}?sig=s&artifactName=${encodeURIComponent(name)}`;
    if (method !== 'UploadArtifact' && method !== 'DownloadArtifact' && body.workflow_run_backend_id !== 'run-1')
      return new Response('bad ids', { status: 400 });
    switch (method) {
      case 'CreateArtifact':
        return Response.json({ ok: true, signedUploadUrl: signed('UploadArtifact') });
      case 'UploadArtifact':
        if (url.searchParams.get('comp') === 'block') staged.set(name, Buffer.from(init?.body as Buffer));
        else stored.set(name, staged.get(name) as Buffer);
        return new Response('', { status: 201 });
      case 'FinalizeArtifact':
        return Response.json({ ok: true, artifactId: '1' });
      case 'ListArtifacts':
        return Response.json({ artifacts: [...stored.keys()].map((n, i) => ({ name: n, databaseId: String(i) })) });
      case 'GetSignedArtifactURL':
        return Response.json({ signedUrl: signed('DownloadArtifact') });
      case 'DownloadArtifact':
        return new Response(stored.get(name) ?? null);
      default:
        return new Response('no', { status: 404 });
    }
  };
  return { fetch: impl as typeof fetch, stored, calls };
}

const token = (scp: string): string => `x.${Buffer.from(JSON.stringify({ scp })).toString('base64url')}.y`;

describe('the artifact-service leg store', () => {
  it('puts a record in one block and reads it back by name', async () => {
    const f = fakeResults();
    const store = resultsStore({
      resultsUrl: 'http://127.0.0.1:9/',
      token: token('Actions.GenericRead Actions.Results:run-1:job-1'),
      fetchImpl: f.fetch,
    });
    await store.put('multiarch-leg-k-linux-amd64-a1', Buffer.from('{"a":1}'));
    await store.put('other-artifact', Buffer.from('x'));
    expect(f.calls).toContain('PUT UploadArtifact?comp=block');
    expect(f.calls).toContain('PUT UploadArtifact?comp=blocklist');
    const listed = await store.list('multiarch-leg-k-');
    expect(listed).toEqual([{ name: 'multiarch-leg-k-linux-amd64-a1' }]);
    expect((await store.get(listed[0]!)).toString()).toBe('{"a":1}');
  });

  it('says which call the service refused', async () => {
    const f = fakeResults();
    const store = resultsStore({ resultsUrl: 'http://127.0.0.1:9/', token: token('Actions.Results:run-2:job-1'), fetchImpl: f.fetch });
    await expect(store.list('x')).rejects.toThrow('artifact service ListArtifacts: HTTP 400 bad ids');
  });

  it('needs the Actions.Results scope in the runtime token', () => {
    expect(backendIds(token('Actions.Results:r:j'))).toEqual({ workflow_run_backend_id: 'r', workflow_job_run_backend_id: 'j' });
    expect(() => backendIds(token('Actions.GenericRead'))).toThrow('ACTIONS_RUNTIME_TOKEN has no Actions.Results scope');
    expect(() => backendIds('not-a-jwt')).toThrow('ACTIONS_RUNTIME_TOKEN has no Actions.Results scope');
  });

  it('exists only where the runner gives a node action the service, v3 on GHES', () => {
    const tok = token('Actions.Results:r:j');
    expect(runnerLegStore({})).toBeUndefined();
    expect(runnerLegStore({ ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/', ACTIONS_RUNTIME_TOKEN: tok })?.api).toBe('artifact API v4');
    const ghes = { GITHUB_SERVER_URL: 'https://git.corp.example', ACTIONS_RUNTIME_TOKEN: tok, ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/' };
    expect(runnerLegStore(ghes)).toBeUndefined();
    expect(runnerLegStore({ ...ghes, ACTIONS_RUNTIME_URL: 'http://127.0.0.1:9/', GITHUB_RUN_ID: '5' })?.api).toBe('artifact API v3');
    expect([isGhes(undefined), isGhes('https://github.com'), isGhes('https://acme.ghe.com'), isGhes('https://git.corp.example')]).toEqual([
      false,
      false,
      false,
      true,
    ]);
  });

  it('on GHES, puts a record in a file container and reads it back (v3 API, as act serves it)', async () => {
    const files = new Map<string, Buffer>();
    const names: string[] = [];
    const calls: string[] = [];
    const impl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = new URL(String(input));
      const method = init?.method ?? 'GET';
      calls.push(`${method} ${url.pathname}`);
      if ((init?.headers as Record<string, string>).Authorization !== `Bearer tok`) return new Response('', { status: 401 });
      if (url.pathname === '/_apis/pipelines/workflows/5/artifacts') {
        if (method === 'POST') {
          names.push((JSON.parse(String(init?.body)) as { Name: string }).Name);
          return Response.json({ fileContainerResourceUrl: 'http://127.0.0.1:9/upload/5' });
        }
        if (method === 'PATCH') return Response.json({});
        return Response.json({
          count: names.length,
          value: names.map((name) => ({ name, fileContainerResourceUrl: 'http://127.0.0.1:9/download/5' })),
        });
      }
      if (url.pathname === '/upload/5') {
        expect((init?.headers as Record<string, string>)['Content-Range']).toBe('bytes 0-6/7');
        files.set(url.searchParams.get('itemPath') ?? '', Buffer.from(init?.body as Buffer));
        return new Response('', { status: 200 });
      }
      if (url.pathname === '/download/5') {
        const prefix = url.searchParams.get('itemPath') ?? '';
        const value = [...files.keys()]
          .filter((f) => f.startsWith(`${prefix}/`))
          .map((path) => ({ path, itemType: 'file', contentLocation: `http://127.0.0.1:9/artifact/5/${path}` }));
        return Response.json({ count: value.length, value });
      }
      if (url.pathname.startsWith('/artifact/5/')) return new Response(files.get(url.pathname.slice('/artifact/5/'.length)) ?? null);
      return new Response('', { status: 404 });
    };
    const store = pipelinesStore({ runtimeUrl: 'http://127.0.0.1:9/', token: 'tok', runId: '5', fetchImpl: impl as typeof fetch });
    await store.put('multiarch-leg-k-linux-arm64-a1', Buffer.from('{"a":1}'));
    expect(calls.slice(0, 3)).toEqual([
      'POST /_apis/pipelines/workflows/5/artifacts',
      'PUT /upload/5',
      'PATCH /_apis/pipelines/workflows/5/artifacts',
    ]);
    const listed = await store.list('multiarch-leg-k-');
    expect(listed).toEqual([{ name: 'multiarch-leg-k-linux-arm64-a1' }]);
    expect((await store.get(listed[0]!)).toString()).toBe('{"a":1}');
    await expect(store.get({ name: 'nope' })).rejects.toThrow('artifact service has no artifact nope');
    const refused = pipelinesStore({ runtimeUrl: 'http://127.0.0.1:9', token: 'wrong', runId: '5', fetchImpl: impl as typeof fetch });
    await expect(refused.list('x')).rejects.toThrow('artifact service list: HTTP 401');
  });
});
