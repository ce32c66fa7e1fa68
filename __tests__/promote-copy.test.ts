import { describe, expect, it } from '@jest/globals';
import { COPY_PARALLEL, TreeCopier, blobsOf, childrenOf, referrersTag } from '../src/promote/copy.js';
import { RegistryClient, RegistryError, type Repo } from '../src/registry/client.js';
import type { Descriptor } from '../src/types/buildx.js';
import type { RegistryAuth } from '../src/model.js';
import { MemoryRegistry, OCI_INDEX, OCI_MANIFEST, sha256, type HostOptions } from './support/memory-registry.js';

const A = 'src.test';
const B = 'dst.test';
const SOURCE: Repo = { registry: A, repository: 'org/app' };
const X: Repo = { registry: B, repository: 'team/x' };
const Y: Repo = { registry: B, repository: 'team/y' };

// --- an image tree with real digests -------------------------------------------

interface Content {
  desc: Descriptor;
  bytes: string;
}

const content = (mediaType: string, bytes: string, extra: Partial<Descriptor> = {}): Content => ({
  desc: { mediaType, digest: sha256(bytes), size: Buffer.byteLength(bytes), ...extra },
  bytes,
});

const imageManifest = (config: Content, layers: Content[], extra: Record<string, unknown> = {}, desc: Partial<Descriptor> = {}): Content =>
  content(
    OCI_MANIFEST,
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...extra, config: config.desc, layers: layers.map((l) => l.desc) }),
    desc,
  );

const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const CONFIG = 'application/vnd.oci.image.config.v1+json';

/** linux/amd64 and linux/arm64 images sharing their base layer, under one index. */
function twoPlatformImage() {
  const shared = content(LAYER, 'base layer shared by both platforms');
  const amd64Config = content(CONFIG, '{"architecture":"amd64","os":"linux"}');
  const arm64Config = content(CONFIG, '{"architecture":"arm64","os":"linux"}');
  const amd64Layer = content(LAYER, 'amd64 binaries');
  const arm64Layer = content(LAYER, 'arm64 binaries');
  const amd64 = imageManifest(amd64Config, [shared, amd64Layer], {}, { platform: { architecture: 'amd64', os: 'linux' } });
  const arm64 = imageManifest(arm64Config, [shared, arm64Layer], {}, { platform: { architecture: 'arm64', os: 'linux' } });
  const index = content(OCI_INDEX, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd64.desc, arm64.desc] }));
  return { blobs: [shared, amd64Config, arm64Config, amd64Layer, arm64Layer], manifests: [amd64, arm64], index };
}

/** Like twoPlatformImage with `n` layers per platform besides the shared one: 2n + 3 blobs. */
function wideImage(n: number): ReturnType<typeof twoPlatformImage> {
  const shared = content(LAYER, 'wide base layer');
  const platform = (architecture: string) => {
    const config = content(CONFIG, JSON.stringify({ architecture, os: 'linux' }));
    const layers = Array.from({ length: n }, (_, i) => content(LAYER, `${architecture} layer ${i}`));
    return { blobs: [config, ...layers], manifest: imageManifest(config, [shared, ...layers], {}, { platform: { architecture, os: 'linux' } }) };
  };
  const [amd64, arm64] = [platform('amd64'), platform('arm64')];
  const index = content(OCI_INDEX, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd64.manifest.desc, arm64.manifest.desc] }));
  return { blobs: [shared, ...amd64.blobs, ...arm64.blobs], manifests: [amd64.manifest, arm64.manifest], index };
}

/** A signature-like artifact whose subject is `subject`. */
function signatureOf(subject: Content, text = 'signature') {
  const empty = content('application/vnd.oci.empty.v1+json', '{}');
  const payload = content('application/vnd.example.signature.v1', `${text} of ${subject.desc.digest}`);
  const manifest = imageManifest(empty, [payload], {
    artifactType: 'application/vnd.example.signature.v1',
    subject: { mediaType: subject.desc.mediaType, digest: subject.desc.digest, size: subject.desc.size },
  });
  return { blobs: [empty, payload], manifest };
}

// --- the registries --------------------------------------------------------------

interface World {
  registry: MemoryRegistry;
  client: RegistryClient;
  image: ReturnType<typeof twoPlatformImage>;
}

function world(a: HostOptions = {}, b: HostOptions = {}, auths: RegistryAuth[] = []): World {
  const registry = new MemoryRegistry().addHost(A, a).addHost(B, b);
  const image = seedImage(registry, twoPlatformImage());
  const client = new RegistryClient({ auths, fetchImpl: registry.fetch, sleep: async () => undefined });
  return { registry, client, image };
}

function seedImage(registry: MemoryRegistry, image: World['image']): World['image'] {
  for (const blob of image.blobs) registry.seedBlob(A, SOURCE.repository, blob.bytes);
  for (const m of image.manifests) registry.seedManifest(A, SOURCE.repository, m.bytes);
  registry.seedManifest(A, SOURCE.repository, image.index.bytes, 'v1');
  return image;
}

function seedArtifact(registry: MemoryRegistry, host: string, artifact: ReturnType<typeof signatureOf>): void {
  for (const blob of artifact.blobs) registry.seedBlob(host, SOURCE.repository, blob.bytes);
  registry.seedManifest(host, SOURCE.repository, artifact.manifest.bytes);
}

/** Completed blob uploads to `host`: the upload PUTs it accepted, with the digest each carried. */
const uploads = (r: MemoryRegistry, host: string): string[] =>
  r
    .requestsTo(host, 'PUT')
    .filter((q) => q.path.includes('/blobs/uploads/') && q.status === 201)
    .map((q) => new URLSearchParams(q.query).get('digest') ?? '');

/** Mounts `host` performed: `<repo> <- <from>` for each mount POST answered 201. */
const mounts = (r: MemoryRegistry, host: string): string[] =>
  r
    .requestsTo(host, 'POST')
    .filter((q) => q.query.includes('mount=') && q.status === 201)
    .map((q) => `${q.path.replace(/^\/v2\/(.+)\/blobs\/uploads\/$/, '$1')} <- ${new URLSearchParams(q.query).get('from') ?? ''}`);

/** Manifest writes to `host`: `<repo>:<reference>` per accepted PUT. */
const manifestWrites = (r: MemoryRegistry, host: string): string[] =>
  r
    .requestsTo(host, 'PUT')
    .filter((q) => q.path.includes('/manifests/') && q.status === 201)
    .map((q) => q.path.replace(/^\/v2\/(.+)\/manifests\/(.+)$/, '$1:$2'));

/** The two platform manifests are written in parallel, so in either order: names them alike. */
const platformsAlike = (writes: string[], image: World['image']): string[] =>
  writes.map((w) => image.manifests.reduce((named, m) => named.replace(m.desc.digest, '<platform>'), w));

const writesTo = (r: MemoryRegistry, host: string): number => r.requestsTo(host).filter((q) => q.method === 'PUT' || q.method === 'POST').length;

const digestsOf = (...cs: Content[]): string[] => cs.map((c) => c.desc.digest).sort();

describe('referrersTag, blobsOf, childrenOf', () => {
  it('the fallback tag of a digest replaces the colon with a dash', () => {
    expect(referrersTag(`sha256:${'a'.repeat(64)}`)).toBe(`sha256-${'a'.repeat(64)}`);
  });

  it('an image manifest has its config and layers as blobs and no children; an index the reverse', () => {
    const { image } = world();
    const amd64 = image.manifests[0] as Content;
    const asFetched = (c: Content) => ({ raw: Buffer.from(c.bytes), mediaType: c.desc.mediaType, digest: c.desc.digest });
    const [shared, amd64Config, , amd64Layer] = image.blobs as [Content, Content, Content, Content, Content];
    expect(blobsOf(asFetched(amd64))).toEqual([amd64Config.desc, shared.desc, amd64Layer.desc]);
    expect(childrenOf(asFetched(amd64))).toEqual([]);
    expect(blobsOf(asFetched(image.index))).toEqual([]);
    expect(childrenOf(asFetched(image.index))).toEqual(image.manifests.map((m) => m.desc));
  });
});

describe('TreeCopier.copyTree', () => {
  it('copies a two-platform index to another registry by digest, uploading each blob once and mounting it into the second repository', async () => {
    const { registry, client, image } = world();
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);
    await copier.copyTree(Y, image.index.desc.digest);

    const tree = [image.index, ...image.manifests];
    for (const repo of [X, Y]) {
      expect(registry.manifestDigests(B, repo.repository)).toEqual(digestsOf(...tree));
      for (const m of tree) expect(registry.manifest(B, repo.repository, m.desc.digest)?.toString()).toBe(m.bytes);
      for (const b of image.blobs) expect(registry.blob(B, repo.repository, b.desc.digest)?.toString()).toBe(b.bytes);
      expect(registry.tags(B, repo.repository)).toEqual([]);
    }
    expect(uploads(registry, B).sort()).toEqual(digestsOf(...image.blobs));
    expect(mounts(registry, B)).toEqual(image.blobs.map(() => 'team/y <- team/x'));
    // Children go before their index, so the registry never sees a dangling reference.
    expect(platformsAlike(manifestWrites(registry, B), image)).toEqual(
      platformsAlike(
        [X, Y].flatMap((r) => [...image.manifests, image.index].map((m) => `${r.repository}:${m.desc.digest}`)),
        image,
      ),
    );
    // The shared layer is copied once per repository, not found "present" by
    // the second platform (as the sequential copier counted it): 5 blobs each.
    expect(copier.stats).toEqual({ blobsUploaded: 5, blobsMounted: 5, blobsPresent: 0, manifestsWritten: 6 });
    expect(writesTo(registry, A)).toBe(0);
  });

  it('within one registry mounts every blob from the source repository and uploads none', async () => {
    const { registry, client, image } = world();
    const copier = new TreeCopier(client, SOURCE);
    const release: Repo = { registry: A, repository: 'org/release' };
    await copier.copyTree(release, image.index.desc.digest);

    expect(registry.manifestDigests(A, 'org/release')).toEqual(digestsOf(image.index, ...image.manifests));
    expect(uploads(registry, A)).toEqual([]);
    expect(mounts(registry, A)).toEqual(image.blobs.map(() => 'org/release <- org/app'));
    // The shared layer counts once: mounted, not also present for the second platform.
    expect(copier.stats).toEqual({ blobsUploaded: 0, blobsMounted: 5, blobsPresent: 0, manifestsWritten: 3 });
  });

  it('with bearer auth on both registries, the mount into the second repository is granted (pull on the first)', async () => {
    const auths = [
      { registry: A, username: 'reader', password: 'r' },
      { registry: B, username: 'writer', password: 'w' },
    ];
    const { registry, client, image } = world(
      { auth: { scheme: 'bearer', username: 'reader', password: 'r' } },
      { auth: { scheme: 'bearer', username: 'writer', password: 'w' } },
      auths,
    );
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);
    await copier.copyTree(Y, image.index.desc.digest);
    expect(uploads(registry, B)).toHaveLength(5);
    expect(mounts(registry, B)).toHaveLength(5);
    expect(registry.manifestDigests(B, 'team/y')).toEqual(digestsOf(image.index, ...image.manifests));
  });

  it('copying again, as a re-run would, writes nothing', async () => {
    const { registry, client, image } = world();
    await new TreeCopier(client, SOURCE).copyTree(X, image.index.desc.digest);
    const before = registry.requests.length;

    const rerun = new TreeCopier(client, SOURCE);
    await rerun.copyTree(X, image.index.desc.digest);
    const second = registry.requests.slice(before);
    expect(second.filter((q) => q.method === 'PUT' || q.method === 'POST')).toEqual([]);
    // 5 distinct blobs: the shared layer is asked about once.
    expect(rerun.stats).toEqual({ blobsUploaded: 0, blobsMounted: 0, blobsPresent: 5, manifestsWritten: 0 });
  });

  it('the same copier copying to the same repository again neither writes nor asks about blobs it copied', async () => {
    const { registry, client, image } = world();
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);
    const before = registry.requests.length;
    await copier.copyTree(X, image.index.desc.digest);
    const second = registry.requests.slice(before);
    expect(second.filter((q) => q.method !== 'GET')).toEqual([]);
    expect(second.filter((q) => q.host === A && q.path.includes('/manifests/sha256:'))).toEqual([]);
    expect(copier.stats.manifestsWritten).toBe(3);
  });

  it('skips blobs the target already holds', async () => {
    const { registry, client, image } = world();
    const shared = image.blobs[0] as Content;
    registry.seedBlob(B, X.repository, shared.bytes);
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);
    expect(uploads(registry, B).sort()).toEqual(digestsOf(...image.blobs.slice(1)));
    // The seeded shared layer is present once, though both platforms use it.
    expect(copier.stats).toEqual({ blobsUploaded: 4, blobsMounted: 0, blobsPresent: 1, manifestsWritten: 3 });
  });

  it('a digest the source does not hold is an error naming it', async () => {
    const { client } = world();
    const missing = sha256('not pushed');
    await expect(new TreeCopier(client, SOURCE).copyTree(X, missing)).rejects.toThrow(`${A}/org/app@${missing} does not exist`);
  });
});

describe('TreeCopier referrers', () => {
  const fallbackTag = (c: Content): string => referrersTag(c.desc.digest);

  it('source with the referrers API, target without: copies the referrer and writes the fallback tag on the target', async () => {
    const { registry, client, image } = world({ referrersApi: true }, { referrersApi: false });
    const sig = signatureOf(image.index);
    seedArtifact(registry, A, sig);
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);

    expect(registry.manifest(B, X.repository, sig.manifest.desc.digest)?.toString()).toBe(sig.manifest.bytes);
    for (const b of sig.blobs) expect(registry.blob(B, X.repository, b.desc.digest)?.toString()).toBe(b.bytes);
    expect(registry.tags(B, X.repository)).toEqual([fallbackTag(image.index)]);
    const tagged = JSON.parse(registry.manifest(B, X.repository, fallbackTag(image.index))?.toString() ?? '{}') as { manifests: Descriptor[] };
    expect(tagged.manifests.map((d) => d.digest)).toEqual([sig.manifest.desc.digest]);
    expect(tagged.manifests[0]?.artifactType).toBe('application/vnd.example.signature.v1');
    // The subject before its referrer, the fallback tag last.
    expect(platformsAlike(manifestWrites(registry, B), image)).toEqual(
      platformsAlike(
        [...image.manifests, image.index, sig.manifest].map((m) => `team/x:${m.desc.digest}`).concat(`team/x:${fallbackTag(image.index)}`),
        image,
      ),
    );
    expect(copier.stats.manifestsWritten).toBe(5);

    const rerun = new TreeCopier(client, SOURCE);
    const before = registry.requests.length;
    await rerun.copyTree(X, image.index.desc.digest);
    expect(registry.requests.slice(before).filter((q) => q.method === 'PUT' || q.method === 'POST')).toEqual([]);
  });

  it('source without the API but with the fallback tag, target with the API: copies the referrer and writes no fallback tag', async () => {
    const { registry, client, image } = world({ referrersApi: false }, { referrersApi: true });
    const sig = signatureOf(image.index);
    seedArtifact(registry, A, sig);
    const fallback = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...sig.manifest.desc, artifactType: 'application/vnd.example.signature.v1' }],
    });
    registry.seedManifest(A, SOURCE.repository, fallback, fallbackTag(image.index));
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);

    expect(registry.manifest(B, X.repository, sig.manifest.desc.digest)?.toString()).toBe(sig.manifest.bytes);
    expect(registry.tags(B, X.repository)).toEqual([]);
    const listed = await client.referrers(X, image.index.desc.digest);
    expect(childrenOf(listed ?? { raw: Buffer.from('{}'), mediaType: '', digest: '' }).map((d) => d.digest)).toEqual([sig.manifest.desc.digest]);
    expect(copier.stats.manifestsWritten).toBe(4);
  });

  // The OCI referrers tag schema (distribution-spec v1.1, "Pushing Manifests
  // with Subject") has a client pull the existing fallback index and append to
  // it (mergeReferrersIndex), so a referrer that exists only in the target
  // (e.g. a signature made there) stays in the target's fallback tag.
  it('a target fallback tag keeps the referrers it already lists (merge, not overwrite)', async () => {
    const { registry, client, image } = world({ referrersApi: true }, { referrersApi: false });
    seedArtifact(registry, A, signatureOf(image.index, 'source signature'));
    // The target already holds the image and a signature made there, listed under its fallback tag.
    const targetSig = signatureOf(image.index, 'target signature');
    await new TreeCopier(client, SOURCE).copyTree(X, image.index.desc.digest);
    for (const b of targetSig.blobs) registry.seedBlob(B, X.repository, b.bytes);
    registry.seedManifest(B, X.repository, targetSig.manifest.bytes);
    const existing = JSON.parse(registry.manifest(B, X.repository, fallbackTag(image.index))?.toString() ?? '{}') as { manifests: Descriptor[] };
    const listed = { ...existing, manifests: [...existing.manifests, targetSig.manifest.desc] };
    registry.seedManifest(B, X.repository, JSON.stringify(listed), fallbackTag(image.index));
    // A new signature appears in the source; promoting again must not forget the target's.
    seedArtifact(registry, A, signatureOf(image.index, 'second source signature'));
    await new TreeCopier(client, SOURCE).copyTree(X, image.index.desc.digest);

    const after = JSON.parse(registry.manifest(B, X.repository, fallbackTag(image.index))?.toString() ?? '{}') as { manifests: Descriptor[] };
    expect(after.manifests.map((d) => d.digest)).toContain(targetSig.manifest.desc.digest);
    expect(after.manifests).toHaveLength(3);
  });

  it('referrers of a platform manifest go along with it', async () => {
    const { registry, client, image } = world({ referrersApi: true }, { referrersApi: false });
    const amd64 = image.manifests[0] as Content;
    const sbom = signatureOf(amd64, 'sbom');
    seedArtifact(registry, A, sbom);
    await new TreeCopier(client, SOURCE).copyTree(X, image.index.desc.digest);
    expect(registry.manifest(B, X.repository, sbom.manifest.desc.digest)?.toString()).toBe(sbom.manifest.bytes);
    expect(registry.tags(B, X.repository)).toEqual([fallbackTag(amd64)]);
  });

  it.each<[string, boolean, boolean]>([
    ['source with the API, target without', true, false],
    ['source without the API, target with', false, true],
    ['neither with the API', false, false],
    ['both with the API', true, true],
  ])('without referrers (%s) writes only the tree', async (_name, srcApi, dstApi) => {
    const { registry, client, image } = world({ referrersApi: srcApi }, { referrersApi: dstApi });
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);
    expect(platformsAlike(manifestWrites(registry, B), image)).toEqual(
      platformsAlike(
        [...image.manifests, image.index].map((m) => `team/x:${m.desc.digest}`),
        image,
      ),
    );
    expect(registry.tags(B, X.repository)).toEqual([]);
    // The shared layer counts once (uploaded), not also as present.
    expect(copier.stats).toEqual({ blobsUploaded: 5, blobsMounted: 0, blobsPresent: 0, manifestsWritten: 3 });
  });
});

// --- parallel copies, watched through the fetch ---------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Meter {
  fetch: typeof fetch;
  /** Requests started so far, and not yet answered. */
  started: number;
  inFlight: number;
  /** The most blob requests (HEAD, mount or upload POST, GET, upload PUT) in flight at once. */
  peakBlobs: number;
  /** `start|end <METHOD> <repository> <manifests|blobs> <digest>` per request, in time order. */
  events: string[];
}

/** `registry.fetch` with each request held `delayOf(url)` ms (default 2) before it reaches the registry. */
function meter(registry: MemoryRegistry, delayOf: (url: URL) => number = () => 2): Meter {
  let blobs = 0;
  const m: Meter = {
    started: 0,
    inFlight: 0,
    peakBlobs: 0,
    events: [],
    fetch: async (input, init = {}) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const route = /^\/v2\/(.+)\/(manifests|blobs)\/(.*)$/.exec(url.pathname);
      const digest = url.searchParams.get('digest') ?? url.searchParams.get('mount') ?? route?.[3];
      const what = `${(init.method ?? 'GET').toUpperCase()} ${route?.[1]} ${route?.[2]} ${digest}`;
      const blob = route?.[2] === 'blobs';
      m.started++;
      m.inFlight++;
      if (blob) m.peakBlobs = Math.max(m.peakBlobs, ++blobs);
      m.events.push(`start ${what}`);
      try {
        await sleep(delayOf(url));
        return await registry.fetch(input, init);
      } finally {
        m.inFlight--;
        if (blob) blobs--;
        m.events.push(`end ${what}`);
      }
    },
  };
  return m;
}

function metered(image: World['image'], delayOf?: (url: URL) => number) {
  const registry = new MemoryRegistry().addHost(A).addHost(B);
  seedImage(registry, image);
  const watch = meter(registry, delayOf);
  const client = new RegistryClient({ auths: [], fetchImpl: watch.fetch, sleep: async () => undefined });
  return { registry, client, image, watch };
}

const blobDigests = (m: Content): string[] =>
  blobsOf({ raw: Buffer.from(m.bytes), mediaType: m.desc.mediaType, digest: m.desc.digest }).map((d) => d.digest);

describe('TreeCopier in parallel', () => {
  it(`copies the blobs of both platforms at the same time, never more than COPY_PARALLEL (${COPY_PARALLEL}) at once`, async () => {
    const { registry, client, image, watch } = metered(wideImage(8));
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);

    expect(watch.peakBlobs).toBe(COPY_PARALLEL);
    expect(registry.manifestDigests(B, X.repository)).toEqual(digestsOf(image.index, ...image.manifests));
    for (const b of image.blobs) expect(registry.blob(B, X.repository, b.desc.digest)?.toString()).toBe(b.bytes);
    expect(copier.stats).toEqual({ blobsUploaded: 19, blobsMounted: 0, blobsPresent: 0, manifestsWritten: 3 });
  });

  it('uploads a base layer shared by both platforms once per registry, and mounts into the other repository only after that upload', async () => {
    const { registry, client, image, watch } = metered(twoPlatformImage());
    const copier = new TreeCopier(client, SOURCE);
    // Both targets at once: the copy into team/y has to wait for team/x's uploads.
    await Promise.all([copier.copyTree(X, image.index.desc.digest), copier.copyTree(Y, image.index.desc.digest)]);

    const shared = image.blobs[0] as Content;
    expect(watch.events.filter((e) => e === `start HEAD team/x blobs ${shared.desc.digest}`)).toHaveLength(1);
    expect(uploads(registry, B).sort()).toEqual(digestsOf(...image.blobs));
    expect(mounts(registry, B)).toEqual(image.blobs.map(() => 'team/y <- team/x'));
    for (const b of image.blobs) {
      const uploaded = watch.events.indexOf(`end PUT team/x blobs ${b.desc.digest}`);
      expect(uploaded).toBeGreaterThanOrEqual(0);
      expect(watch.events.indexOf(`start POST team/y blobs ${b.desc.digest}`)).toBeGreaterThan(uploaded);
    }
    expect(copier.stats).toEqual({ blobsUploaded: 5, blobsMounted: 5, blobsPresent: 0, manifestsWritten: 6 });
  });

  it('writes a manifest only after all of its blobs are uploaded, and the index only after both platform manifests', async () => {
    const image = twoPlatformImage();
    const shared = image.blobs[0] as Content;
    // The shared layer's upload is by far the slowest.
    const { client, watch } = metered(image, (url) => (url.searchParams.get('digest') === shared.desc.digest ? 25 : 2));
    const copier = new TreeCopier(client, SOURCE);
    await copier.copyTree(X, image.index.desc.digest);

    const startOf = (m: Content): number => watch.events.indexOf(`start PUT team/x manifests ${m.desc.digest}`);
    for (const m of image.manifests) {
      for (const d of blobDigests(m)) {
        const uploaded = watch.events.indexOf(`end PUT team/x blobs ${d}`);
        expect(uploaded).toBeGreaterThanOrEqual(0);
        expect(startOf(m)).toBeGreaterThan(uploaded);
      }
      expect(startOf(image.index)).toBeGreaterThan(watch.events.indexOf(`end PUT team/x manifests ${m.desc.digest}`));
    }
    expect(copier.written.map((w) => w.digest).at(-1)).toBe(image.index.desc.digest);
  });

  it('after a blob upload answers 400, rejects with that error once nothing is in flight, writes no manifest and starts no request after', async () => {
    const { registry, client, image, watch } = metered(wideImage(8));
    registry.inject(B, { status: 400 }, 1, { method: 'PUT', path: /\/blobs\/uploads\// });
    const copier = new TreeCopier(client, SOURCE);
    const failure = await copier.copyTree(X, image.index.desc.digest).then(
      () => undefined,
      (err: unknown) => err,
    );
    const atRejection = { started: watch.started, inFlight: watch.inFlight };
    await sleep(30);

    const refused = registry.requestsTo(B, 'PUT').filter((q) => q.status === 400);
    expect(refused).toHaveLength(1);
    const digest = new URLSearchParams(refused[0]?.query).get('digest');
    expect(failure).toBeInstanceOf(RegistryError);
    expect((failure as RegistryError).message).toContain(`cannot upload blob ${digest}`);
    expect(atRejection.inFlight).toBe(0);
    expect(watch.started).toBe(atRejection.started);
    expect(manifestWrites(registry, B)).toEqual([]);
    expect(copier.written).toEqual([]);
    // Transfers still waiting for a slot never began.
    expect(registry.requestsTo(B, 'HEAD').length).toBeLessThan(image.blobs.length);
    // A failed copier copies nothing more.
    await expect(copier.copyTree(Y, image.index.desc.digest)).rejects.toBe(failure);
  });

  it('rejects with the first failure in time, though a later one settles its own platform sooner', async () => {
    const [amd64Config, arm64Config] = [content(CONFIG, '{"architecture":"amd64"}'), content(CONFIG, '{"architecture":"arm64"}')];
    const first = content(LAYER, 'amd64: refused at 10ms');
    const slow = content(LAYER, 'amd64: answered at 60ms');
    const later = content(LAYER, 'arm64: refused at 30ms');
    const amd64 = imageManifest(amd64Config, [first, slow]);
    const arm64 = imageManifest(arm64Config, [later]);
    const index = content(OCI_INDEX, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd64.desc, arm64.desc] }));
    const delays = new Map([first, slow, later].map((c, i) => [c.desc.digest, [10, 60, 30][i] ?? 0]));
    const { registry, client } = metered({ blobs: [amd64Config, arm64Config, first, slow, later], manifests: [amd64, arm64], index }, (url) =>
      url.pathname.includes('/blobs/') ? (delays.get(url.pathname.split('/').pop() ?? '') ?? 1) : 1,
    );
    // The configs are there already, so arm64 is done when `later` fails; amd64 only once `slow` answers.
    for (const c of [amd64Config, arm64Config]) registry.seedBlob(B, X.repository, c.bytes);
    for (const c of [first, later]) registry.inject(B, { status: 400 }, 1, { method: 'HEAD', path: new RegExp(`/blobs/${c.desc.digest}$`) });

    await expect(new TreeCopier(client, SOURCE).copyTree(X, index.desc.digest)).rejects.toThrow(`cannot check blob ${first.desc.digest}`);
    expect(registry.requestsTo(B, 'HEAD').filter((q) => q.status === 400)).toHaveLength(2);
    expect(manifestWrites(registry, B)).toEqual([]);
  });
});
