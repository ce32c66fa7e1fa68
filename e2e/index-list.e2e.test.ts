// The manifest list the action composes in process is the one buildx's own
// `imagetools create --dry-run` composes over the same sources, on the test
// bed's registry: per-platform indexes (provenance mode=max), image manifests
// with an index annotation that needs Go's HTML-safe escapes, a single
// platform (a list of one), and an image that has an attestation referrer,
// which buildx adds to the list, so that list is left to buildx; and a push
// to a registry that needs credentials, read with them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { actionInputs, bed, getManifest, uniqueRepo } from './testbed.js';
import { composeFrom, registryReader } from '../src/pipeline/index-list.js';
import { RegistryClient } from '../src/registry/client.js';

const BUILDER = `index-list-${process.pid}`;

beforeAll(() => {
  execFileSync('docker', ['buildx', 'create', '--name', BUILDER, '--driver', 'remote', bed.buildkitEndpoint], { encoding: 'utf8' });
});

afterAll(() => {
  execFileSync('docker', ['buildx', 'rm', BUILDER], { encoding: 'utf8' });
});

/** The sources the run logged for its list (`manifest list of a@sha256:..., ...`). */
function sources(run: ActionRun): string[] {
  const m = /^manifest list of (.+)$/m.exec(run.stdout);
  if (!m) throw new Error(`no "manifest list of" line in:\n${run.stdout.slice(-3000)}`);
  return (m[1] ?? '').split(', ');
}

/** buildx's own dry run over the same sources: the bytes it would push. */
function buildxList(
  srcs: readonly string[],
  annotations: readonly string[] = [],
): { digest: string; json: { manifests: { platform?: { os: string } }[] } } {
  const args = ['buildx', 'imagetools', 'create', '--builder', BUILDER, '--dry-run', ...annotations.flatMap((a) => ['--annotation', a]), ...srcs];
  const out = execFileSync('docker', args, { encoding: 'utf8' });
  const raw = out.endsWith('\n') ? out.slice(0, -1) : out;
  return {
    digest: `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    json: JSON.parse(raw) as { manifests: { platform?: { os: string } }[] },
  };
}

function expectComposedInProcess(run: ActionRun): void {
  expect(errorLines(run)).toEqual([]);
  expect(run.exitCode).toBe(0);
  expect(run.stdout).not.toContain('manifest list: composed by buildx');
}

describe('per-platform indexes with provenance (mode=max)', () => {
  const repo = uniqueRepo('list-provenance');
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(actionInputs(repo, { scan: 'false', provenance: 'mode=max' }));
  });

  it("is composed in process, to buildx's digest, and that is what the registry holds", async () => {
    expectComposedInProcess(run);
    const list = buildxList(sources(run));
    expect(run.outputs.digest).toBe(list.digest);
    expect(list.json.manifests).toHaveLength(6);
    expect((await getManifest(bed.registry, repo, '1.0.0'))?.digest).toBe(list.digest);
  });
});

describe('image manifests with an index annotation holding <, > and &', () => {
  const repo = uniqueRepo('list-annotated');
  const annotation = 'index:org.opencontainers.image.description=a <b> & "c"';
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(actionInputs(repo, { scan: 'false', annotations: annotation }));
  });

  it("is composed in process, to buildx's digest", () => {
    expectComposedInProcess(run);
    expect(run.outputs.digest).toBe(buildxList(sources(run), [annotation]).digest);
  });
});

describe('images with SBOM referrers of our own (sbom-attach)', () => {
  const repo = uniqueRepo('list-sbom');
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(actionInputs(repo, { 'sbom-attach': 'true', 'fail-on': 'critical' }));
  });

  it('is composed in process: buildx asks the referrers for attestations only, so its list has no SBOM entry either', () => {
    expectComposedInProcess(run);
    const list = buildxList(sources(run));
    expect(run.outputs.digest).toBe(list.digest);
    expect(list.json.manifests).toHaveLength(3);
  });
});

describe('pushed to a registry that needs credentials (registry-auth)', () => {
  const repo = uniqueRepo('list-auth');
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(
      actionInputs(repo, {
        scan: 'false',
        image: `${bed.authRegistry}/${repo}`,
        'registry-auth': `- registry: ${bed.authRegistry}\n  username: ${bed.authUser}\n  password: ${bed.authPassword}\n`,
      }),
    );
  });

  it('reads the manifests and configs with those credentials and composes the list in process', async () => {
    expectComposedInProcess(run);
    expect(sources(run).every((s) => s.startsWith(`${bed.authRegistry}/${repo}@sha256:`))).toBe(true);
    const client = new RegistryClient({ auths: [{ registry: bed.authRegistry, username: bed.authUser, password: bed.authPassword }] });
    const digests = sources(run).map((s) => s.slice(s.indexOf('@') + 1));
    const again = await composeFrom(registryReader(client, { registry: bed.authRegistry, repository: repo }), digests, []);
    expect('digest' in again && again.digest).toBe(run.outputs.digest);
    expect(run.log).not.toContain(bed.authPassword);
  });
});

describe('one platform, no attestations: a list of one', () => {
  const repo = uniqueRepo('list-single');
  const inputs = actionInputs(repo, { scan: 'false', platforms: 'linux/arm64' });
  let first: ActionRun;
  beforeAll(() => {
    first = runAction(inputs);
  });

  it("is composed in process, to buildx's digest", () => {
    expectComposedInProcess(first);
    const list = buildxList(sources(first));
    expect(first.outputs.digest).toBe(list.digest);
    expect(list.json.manifests).toHaveLength(1);
  });

  describe('then given an attestation referrer (attached with regctl)', () => {
    let platform = '';
    let second: ActionRun;
    beforeAll(() => {
      platform = (JSON.parse(first.outputs['platform-digests'] ?? '{}') as Record<string, string>)['linux/arm64'] ?? '';
      execFileSync(
        'regctl',
        [
          'artifact',
          'put',
          '--subject',
          `${bed.registry}/${repo}@${platform}`,
          '--artifact-type',
          'application/vnd.docker.attestation.manifest.v1+json',
        ],
        { input: '{"attested":true}' },
      );
      // The same build again (cached): the same platform digest, now with a referrer.
      second = runAction(inputs);
    });

    it('buildx adds the referrer to the list, so composing in process declines it', async () => {
      expect(buildxList([`${bed.registry}/${repo}@${platform}`]).json.manifests.map((m) => m.platform?.os)).toEqual(['linux', 'unknown']);
      const why = await composeFrom(registryReader(new RegistryClient({ auths: [] }), { registry: bed.registry, repository: repo }), [platform], []);
      expect(why).toEqual({ why: 'an attestation referrer, which buildx adds to the list' });
    });

    it("the run leaves the list to buildx and gets buildx's digest", () => {
      expect(errorLines(second)).toEqual([]);
      expect(second.stdout).toContain('manifest list: composed by buildx (an attestation referrer');
      expect(sources(second)).toEqual([`${bed.registry}/${repo}@${platform}`]);
      expect(second.outputs.digest).toBe(buildxList(sources(second)).digest);
      expect(second.outputs.digest).not.toBe(first.outputs.digest);
    });
  });
});
