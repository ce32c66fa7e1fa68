// Inputs as workflows on github.com write them, against the test bed:
// `image: <registry>/${{ github.repository }}` with capitals, and index
// annotations next to manifest annotations.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { errorLines, runAction, type ActionRun } from './harness.js';
import { actionInputs, bed, getManifest, listTags, uniqueRepo } from './testbed.js';

describe('an image whose repository path has capitals', () => {
  const repo = uniqueRepo('caps');
  const written = `${bed.registry}/MyOrg-${repo.replace(/^[a-z]/, (c) => c.toUpperCase())}`;
  const lowered = `myorg-${repo}`;
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(actionInputs(repo, { image: written, tags: 'V1.0', scan: 'false' }));
  });

  it('builds and pushes to the lower-cased repository, tag case kept', async () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(await listTags(bed.registry, lowered)).toEqual(['V1.0']);
    expect((await getManifest(bed.registry, lowered, 'V1.0'))?.digest).toBe(run.outputs.digest);
    expect(run.outputs.image).toBe(`${bed.registry}/${lowered}@${run.outputs.digest}`);
  });

  it('says so in the log, as a notice', () => {
    expect(run.log).toContain(
      `::notice::image: "${written}" has capitals in its repository path; using "${bed.registry}/${lowered}" (repository names are lower-case; tags keep their case)`,
    );
  });
});

describe('index annotations with manifest annotations', () => {
  const repo = uniqueRepo('annotations');
  let run: ActionRun;
  beforeAll(() => {
    run = runAction(
      actionInputs(repo, {
        platforms: 'linux/amd64,linux/arm64',
        scan: 'false',
        annotations: 'index:org.opencontainers.image.description=the list\nmanifest:org.opencontainers.image.title=one platform',
      }),
    );
  });

  it('builds every platform', () => {
    expect(errorLines(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
  });

  it('puts the index annotation on the manifest list, and only there', async () => {
    const list = await getManifest(bed.registry, repo, '1.0.0');
    const annotations = (list?.json as { annotations?: Record<string, string> } | undefined)?.annotations;
    expect(annotations?.['org.opencontainers.image.description']).toBe('the list');
    const digests = JSON.parse(run.outputs['platform-digests'] ?? '{}') as Record<string, string>;
    expect(Object.keys(digests)).toHaveLength(2);
    for (const digest of Object.values(digests)) {
      const m = (await getManifest(bed.registry, repo, digest))?.json as { annotations?: Record<string, string> } | undefined;
      expect(m?.annotations?.['org.opencontainers.image.title']).toBe('one platform');
      expect(m?.annotations?.['org.opencontainers.image.description']).toBeUndefined();
    }
  });
});
