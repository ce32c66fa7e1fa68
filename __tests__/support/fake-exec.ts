// Fakes of the processes behind the Exec seam (docker, buildx, trivy) and of
// the registry behind the registry client's fetch, for tests of the
// orchestration. They do what the real ones do that the code depends on, with
// outputs captured on the test bed (__tests__/fixtures):
//   - `docker buildx create [--append]/inspect --bootstrap/rm` keep a set of
//     builders; inspect prints the captured `buildx inspect` text of the
//     builder's driver (docker-container or remote) under its name.
//   - `docker buildx build ... --metadata-file F` pushes the platform's captured
//     manifests to the registry and writes its captured metadata to F (or exits
//     non-zero after printing log lines).
//   - `imagetools inspect --raw` prints stored bytes (no trailing newline);
//     `imagetools create --dry-run` reads its sources from their registry and
//     prints the index buildx makes of them plus "\n" (the same bytes as the
//     captured dry runs).
//   - `trivy image --download-db-only` writes <cache>/db/trivy.db and
//     metadata.json; `trivy image ... --output F <ref>` writes the platform's
//     report to F (refusing a ref the registry does not hold, or a missing DB).
//   - the registry (OCI distribution API over `fetch`): /v2/ ping, manifests by
//     tag or digest (GET/HEAD/PUT), optional basic auth.
// Every process call and HTTP request is recorded, on one clock.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestOf } from '../../src/oci.js';
import { CommandError, type Exec, type ExecResult } from '../../src/exec.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** A fixture's text, e.g. `fixture('buildx/inspect-remote.txt')`. */
export function fixture(rel: string): string {
  return fs.readFileSync(path.join(FIXTURES, rel), 'utf8');
}

/** The registry and repository the fixtures were pushed to on the test bed. */
export const FIXTURE_REGISTRY = '127.0.0.1:5000';
export const FIXTURE_REPOSITORY = 'fixture-app';
export const FIXTURE_IMAGE = `${FIXTURE_REGISTRY}/${FIXTURE_REPOSITORY}`;

/** Where the pipeline is told trivy lives. */
export const FAKE_TRIVY = '/opt/fake/trivy';

/** Per platform, what the test bed's `docker buildx build --provenance mode=max --push` left. */
export const PROVENANCE_MAX = {
  metadata: {
    'linux/amd64': 'buildx/metadata-provenance-max-linux-amd64.json',
    'linux/arm64': 'buildx/metadata-provenance-max-linux-arm64.json',
    'linux/arm/v7': 'buildx/metadata-provenance-max-linux-arm-v7.json',
  },
  /** The per-platform indexes (image + attestation manifest) the builds pushed. */
  pushed: {
    'linux/amd64': 'sha256:cdff2e270305ac9918b928078a63f202aee245de5fe27e9444aee027f5ddbba0',
    'linux/arm64': 'sha256:86989c6f5e0bd5d0a7ec6919e7ba5c42c0c88b373c1c4d7d2e7bc813574288be',
    'linux/arm/v7': 'sha256:333b49fce470f672badd8ad482ac5aa864828a8e9ebadc96d902290656cd424b',
  },
  /** The image manifests inside them. */
  images: {
    'linux/amd64': {
      digest: 'sha256:c46c198465c8dc9f4150fe7325fd1c6f86f8144b7d31e1d13103f383e4f19edd',
      file: 'buildx/inspect-raw-manifest-amd64.json',
    },
    'linux/arm64': {
      digest: 'sha256:60164cfe06d86ce4329b418d6a711e047a21929c82f666e6fa853f12a2530dab',
      file: 'buildx/inspect-raw-manifest-arm64-noattest.json',
    },
    'linux/arm/v7': {
      digest: 'sha256:069eff470762c21400fb523f86cabd066fc663192a482da5cebf8b38cc0a71c0',
      file: 'buildx/inspect-raw-manifest-arm-v7.json',
    },
  },
} as const;

/** Every manifest and index captured on the test bed: `imagetools inspect --raw` output and OCI layout blobs. */
const CAPTURED_MANIFESTS = [
  'buildx/oci-platform-index-arm-v7.json',
  'buildx/inspect-raw-platform-index-amd64.json',
  'buildx/inspect-raw-platform-index-arm64.json',
  'buildx/inspect-raw-platform-index-arm-v7.json',
  'buildx/inspect-raw-manifest-amd64.json',
  'buildx/inspect-raw-manifest-arm64-noattest.json',
  'buildx/inspect-raw-manifest-arm-v7.json',
  'buildx/inspect-raw-attestation-manifest-arm-v7.json',
  'buildx/inspect-raw-index.json',
];

/**
 * The platform of each captured image manifest, as its platform index (or the
 * build metadata) lists it; buildx reads it from the image config, which the
 * fixtures do not hold.
 */
const MANIFEST_PLATFORMS: Record<string, Record<string, string>> = {
  [PROVENANCE_MAX.images['linux/amd64'].digest]: { architecture: 'amd64', os: 'linux' },
  [PROVENANCE_MAX.images['linux/arm64'].digest]: { architecture: 'arm64', os: 'linux' },
  [PROVENANCE_MAX.images['linux/arm/v7'].digest]: { architecture: 'arm', os: 'linux', variant: 'v7' },
};

/**
 * What `imagetools create --dry-run` prints for these sources (raw bytes, in
 * order): an OCI index of every descriptor of an index source and one
 * descriptor per manifest source, `index:` annotations on the index, two-space
 * JSON and a newline. Checked against the captured outputs in pipeline.test.ts.
 */
export function composeIndex(sources: readonly string[], annotations: readonly string[] = []): string {
  const manifests = sources.flatMap((raw) => {
    const v = JSON.parse(raw) as { mediaType: string; manifests?: unknown[] };
    if (v.manifests) return v.manifests;
    const digest = digestOf(raw);
    const platform = MANIFEST_PLATFORMS[digest];
    if (!platform) throw new Error(`fake imagetools: no platform known for ${digest}`);
    return [{ mediaType: v.mediaType, digest, size: Buffer.byteLength(raw), platform }];
  });
  const index: Record<string, unknown> = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests };
  const indexAnnotations = annotations.filter((a) => a.startsWith('index:')).map((a) => a.slice('index:'.length));
  if (indexAnnotations.length) {
    index.annotations = Object.fromEntries(indexAnnotations.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  }
  return `${JSON.stringify(index, null, 2)}\n`;
}

export const DEFAULT_REPORTS: Record<string, string> = {
  'linux/amd64': 'trivy/handmade-image-amd64.json',
  'linux/arm64': 'trivy/handmade-image-arm64.json',
  'linux/arm/v7': 'trivy/handmade-oci-layout-arm-v7.json',
};

export interface FakeCall {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Ticks of the shared clock when the call started and returned. */
  start: number;
  end: number;
  /** config.json under the call's DOCKER_CONFIG at the time of the call (when DOCKER_CONFIG is set). */
  dockerConfig?: string;
}

export interface FakeRequest {
  method: string;
  url: string;
  authorization?: string;
  status: number;
  at: number;
}

export interface FakeBuildFailure {
  exitCode: number;
  /** Log lines printed before it exits. */
  lines: string[];
  /** Fails only the first this many runs (default: every run). */
  times?: number;
}

export interface FakeToolsOptions {
  /** Platform id -> metadata fixture `buildx build` writes. Default: PROVENANCE_MAX.metadata. */
  metadata?: Record<string, string>;
  /** Platform id -> trivy report fixture `trivy image` writes. Default: DEFAULT_REPORTS. */
  reports?: Record<string, string>;
  /** Platform id -> a captured `--progress=rawjson` fixture the build prints on stderr. */
  progress?: Record<string, string>;
  /** Platform id -> how long its build takes (ms). */
  buildMs?: Record<string, number>;
  /** How long each trivy scan takes (ms). */
  scanMs?: number;
  failBuild?: Record<string, FakeBuildFailure>;
  /** Platform id -> its `trivy image` scans fail like this (the first `times` of them, default every one). */
  failScan?: Record<string, { exitCode: number; stderr: string; times?: number }>;
  /** Image -> `docker pull` of it fails like this (the first `times`, default every one); other pulls succeed. */
  failPull?: Record<string, { exitCode: number; stderr: string; times?: number }>;
  /** Makes `trivy image --download-db-only` fail like this. */
  dbDownloadFailure?: { exitCode: number; stderr: string };
  /** Builders that exist before the run (e.g. one named by the `builder` input). */
  existingBuilders?: string[];
  /** The registry answers 401 unless requests carry these basic credentials. */
  requireAuth?: { username: string; password: string };
  /** Once written, this tag reads back as these bytes instead (a registry that went wrong). */
  tagOverride?: { tag: string; raw: string };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

function flags(args: readonly string[], name: string): string[] {
  return args.flatMap((a, i) => (a === name && args[i + 1] !== undefined ? [args[i + 1] as string] : []));
}

/** Positional arguments after `skip` leading words, skipping the values of flags that take one. */
function positionals(args: readonly string[], skip: number, valueFlags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = skip; i < args.length; i++) {
    const a = args[i] as string;
    if (valueFlags.includes(a)) i++;
    else if (!a.startsWith('-')) out.push(a);
  }
  return out;
}

/** GET `host/name@digest` from another registry over HTTP, digest checked. */
async function fetchSource(ref: string): Promise<string | undefined> {
  const at = ref.indexOf('@');
  const slash = ref.indexOf('/');
  if (at === -1 || slash === -1) return undefined;
  const res = await fetch(`http://${ref.slice(0, slash)}/v2/${ref.slice(slash + 1, at)}/manifests/${ref.slice(at + 1)}`, {
    headers: { Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' },
  });
  const raw = await res.text();
  return res.status === 200 && digestOf(raw) === ref.slice(at + 1) ? raw : undefined;
}

function ok(stdout: string, stderr = ''): ExecResult {
  return { exitCode: 0, stdout, stderr };
}

function fail(exitCode: number, stderr: string): ExecResult {
  return { exitCode, stdout: '', stderr };
}

function mediaTypeOf(raw: string): string {
  const v = JSON.parse(raw) as { mediaType?: string };
  return v.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
}

export class FakeTools {
  readonly calls: FakeCall[] = [];
  readonly requests: FakeRequest[] = [];
  /** Builders that exist now. */
  readonly builders: Set<string>;
  /** The driver each builder this fake created was made with. */
  private readonly drivers = new Map<string, string>();
  /** The endpoint of each node of each builder this fake created (`--append` adds one). */
  private readonly endpoints = new Map<string, string[]>();
  /** The fixture repository in the registry: manifests by digest, and tags. */
  readonly manifests = new Map<string, string>();
  readonly tags = new Map<string, string>();
  /** Every manifest captured on the test bed, by digest: what builds push. */
  private readonly captured = new Map<string, string>();
  private clock = 0;

  constructor(private readonly opts: FakeToolsOptions = {}) {
    this.builders = new Set(opts.existingBuilders ?? []);
    for (const f of CAPTURED_MANIFESTS) {
      const raw = fixture(f);
      this.captured.set(digestOf(raw), raw);
    }
  }

  // --- processes ---

  /** The Exec seam, backed by this fake. */
  readonly exec: Exec = async (command, args, options = {}) => {
    const call: FakeCall = { command, args: [...args], env: { ...(options.env ?? {}) }, start: ++this.clock, end: 0 };
    const dc = call.env.DOCKER_CONFIG;
    if (dc !== undefined) {
      const file = path.join(dc, 'config.json');
      call.dockerConfig = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    }
    this.calls.push(call);
    try {
      const r = await this.run(command, [...args]);
      if (options.onLine) for (const line of `${r.stdout}\n${r.stderr}`.split('\n')) if (line !== '') options.onLine(line);
      if (r.exitCode !== 0 && !options.allowFailure) throw new CommandError(command, args, r.exitCode, r.stderr || r.stdout);
      return r;
    } finally {
      call.end = ++this.clock;
    }
  };

  /** Calls whose argv starts with these words (after the command). */
  callsOf(command: string, ...words: string[]): FakeCall[] {
    return this.calls.filter((c) => c.command === command && words.every((w, i) => c.args[i] === w));
  }

  /** `docker buildx build` calls, with their platform. */
  builds(): (FakeCall & { platform: string })[] {
    return this.callsOf('docker', 'buildx', 'build').map((c) => ({ ...c, platform: flag(c.args, '--platform') ?? '' }));
  }

  /** `trivy image` scans (not the DB download), with their platform and target. */
  scans(): (FakeCall & { platform: string; ref: string })[] {
    return this.callsOf(FAKE_TRIVY, 'image')
      .filter((c) => !c.args.includes('--download-db-only'))
      .map((c) => ({ ...c, platform: flag(c.args, '--platform') ?? '', ref: c.args[c.args.length - 1] ?? '' }));
  }

  private async run(command: string, args: string[]): Promise<ExecResult> {
    if (command === 'docker') return this.docker(args);
    if (command === FAKE_TRIVY) return this.trivy(args);
    throw new Error(`fake exec: unexpected command ${[command, ...args].join(' ')}`);
  }

  private readonly failed = new Map<string, number>();
  /** Whether the failure keyed `key` strikes this time: the first `times` runs (every run when undefined). */
  private failsAgain(key: string, times: number | undefined): boolean {
    const n = (this.failed.get(key) ?? 0) + 1;
    this.failed.set(key, n);
    return times === undefined || n <= times;
  }

  private docker(args: string[]): Promise<ExecResult> | ExecResult {
    const [a0, a1, a2] = args;
    if (a0 === 'info') return ok('Server Version: 28.0.0\n');
    if (a0 === 'pull') {
      const f = this.opts.failPull?.[a1 ?? ''];
      return f && this.failsAgain(`pull ${a1}`, f.times) ? fail(f.exitCode, f.stderr) : ok(`${a1}\n`);
    }
    if (a0 === 'buildx' && a1 === 'create') {
      const name = flag(args, '--name') ?? 'fake-builder';
      if (args.includes('--append')) {
        if (!this.builders.has(name)) return fail(1, `ERROR: failed to find instance "${name}" for append\n`);
        this.endpoints.get(name)?.push(args[args.length - 1] ?? '');
        return ok(`${name}\n`);
      }
      if (this.builders.has(name))
        return fail(1, `ERROR: existing instance for "${name}" but no append mode, specify the node name to make changes for existing instances\n`);
      this.builders.add(name);
      this.drivers.set(name, flag(args, '--driver') ?? 'docker-container');
      const endpoint = positionals(args, 2, ['--name', '--driver', '--driver-opt', '--buildkitd-config', '--platform'])[0];
      this.endpoints.set(name, endpoint ? [endpoint] : []);
      return ok(`${name}\n`);
    }
    if (a0 === 'buildx' && a1 === 'inspect') {
      const name = args[args.length - 1] ?? '';
      if (!this.builders.has(name)) return fail(1, `ERROR: no builder "${name}" found\n`);
      // The captured inspect of the builder's driver (a builder that existed before the run: the remote one).
      // Two remote nodes: the test bed's amd64 daemon and its arm64 + arm/v7 one (nodes named <builder>0, <builder>1).
      const captured =
        this.drivers.get(name) === 'docker-container'
          ? 'buildx/inspect-docker-container.txt'
          : (this.endpoints.get(name)?.length ?? 1) > 1
            ? 'buildx/inspect-multinode-remote.txt'
            : 'buildx/inspect-remote.txt';
      const text = fixture(captured);
      const old = /^Name:\s+(\S+)/.exec(text)?.[1] ?? '';
      const renamed = text.replace(/^(Name:\s+)(\S+)$/gm, (line, key: string, value: string) =>
        value.startsWith(old) ? `${key}${name}${value.slice(old.length)}` : line,
      );
      // Like buildx, each node shows the endpoint it was created with (when the create gave one per node).
      const given = this.endpoints.get(name) ?? [];
      let n = 0;
      const sameCount = [...renamed.matchAll(/^Endpoint:/gm)].length === given.length;
      return ok(sameCount ? renamed.replace(/^(Endpoint:\s+)\S+$/gm, (_l, key: string) => `${key}${given[n++] ?? ''}`) : renamed);
    }
    if (a0 === 'buildx' && a1 === 'rm') {
      const name = args[args.length - 1] ?? '';
      if (!this.builders.delete(name)) return fail(1, `ERROR: no builder "${name}" found\n`);
      return ok('', `${name} removed\n`);
    }
    if (a0 === 'buildx' && a1 === 'build') return this.build(args);
    if (a0 === 'buildx' && a1 === 'imagetools' && a2 === 'inspect') return this.inspectRaw(args);
    if (a0 === 'buildx' && a1 === 'imagetools' && a2 === 'create' && args.includes('--dry-run')) return this.dryRunIndex(args);
    throw new Error(`fake exec: unexpected docker ${args.join(' ')}`);
  }

  private noBuilder(args: string[]): ExecResult | undefined {
    const b = flag(args, '--builder');
    return b !== undefined && !this.builders.has(b) ? fail(1, `ERROR: no builder "${b}" found\n`) : undefined;
  }

  private async build(args: string[]): Promise<ExecResult> {
    const missing = this.noBuilder(args);
    if (missing) return missing;
    const platform = flag(args, '--platform') ?? '';
    await sleep(this.opts.buildMs?.[platform] ?? 1);
    const failure = this.opts.failBuild?.[platform];
    if (failure && this.failsAgain(`build ${platform}`, failure.times)) return fail(failure.exitCode, `${failure.lines.join('\n')}\n`);
    const metadataFile = flag(args, '--metadata-file');
    const metadataFixture = (this.opts.metadata ?? PROVENANCE_MAX.metadata)[platform as keyof typeof PROVENANCE_MAX.metadata];
    if (!metadataFile || !metadataFixture) throw new Error(`fake exec: no metadata fixture for ${platform} (or no --metadata-file)`);
    const metadata = fixture(metadataFixture);
    const top = (JSON.parse(metadata) as { 'containerimage.digest': string })['containerimage.digest'];
    const oci = /^type=oci,dest=([^,]+)/.exec(flag(args, '--output') ?? '');
    if (oci) this.writeLayout(oci[1] as string, top);
    // push-by-digest: the top object and what it references land in the repository, untagged.
    else this.push(top);
    fs.writeFileSync(metadataFile, metadata);
    const progress = this.opts.progress?.[platform];
    if (progress) return ok('', fixture(progress));
    return ok('', `#1 [internal] load build definition from Dockerfile\n#12 [${platform}] exporting to image\n#12 DONE 0.4s\n`);
  }

  private push(digest: string): void {
    const raw = this.captured.get(digest);
    if (raw === undefined) return;
    this.manifests.set(digest, raw);
    const children = (JSON.parse(raw) as { manifests?: { digest: string }[] }).manifests ?? [];
    for (const c of children) this.push(c.digest);
  }

  /** An OCI layout directory (tar=false) holding the top object and the captured manifests it references. */
  private writeLayout(dir: string, digest: string): void {
    fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const write = (d: string): void => {
      const raw = this.captured.get(d);
      if (raw === undefined) return;
      fs.writeFileSync(path.join(dir, 'blobs', 'sha256', d.slice('sha256:'.length)), raw);
      for (const c of (JSON.parse(raw) as { manifests?: { digest: string }[] }).manifests ?? []) write(c.digest);
    };
    write(digest);
  }

  /** The stored bytes for `repo@digest` or `repo:tag` of the fixture repository. */
  private resolveRef(ref: string): string | undefined {
    const at = ref.indexOf('@');
    if (at !== -1) return ref.slice(0, at) === FIXTURE_IMAGE ? this.manifests.get(ref.slice(at + 1)) : undefined;
    const colon = ref.lastIndexOf(':');
    return ref.slice(0, colon) === FIXTURE_IMAGE ? this.readTag(ref.slice(colon + 1)) : undefined;
  }

  private readTag(tag: string): string | undefined {
    const raw = this.tags.get(tag);
    return raw !== undefined && this.opts.tagOverride?.tag === tag ? this.opts.tagOverride.raw : raw;
  }

  private inspectRaw(args: string[]): ExecResult {
    const missing = this.noBuilder(args);
    if (missing) return missing;
    const ref = args[args.length - 1] ?? '';
    const raw = this.resolveRef(ref);
    return raw === undefined ? fail(1, `ERROR: ${ref}: not found\n`) : ok(raw);
  }

  /** Like buildx: every source is read from its registry (the fixture one, or another such as a local layout server). */
  private async dryRunIndex(args: string[]): Promise<ExecResult> {
    const missing = this.noBuilder(args);
    if (missing) return missing;
    const sources = positionals(args, 3, ['--builder', '--annotation', '-t', '--tag', '-f', '--file']);
    const raws: string[] = [];
    for (const s of sources) {
      const raw = s.startsWith(`${FIXTURE_REGISTRY}/`) ? this.resolveRef(s) : await fetchSource(s);
      if (raw === undefined) return fail(1, `ERROR: ${s}: not found\n`);
      raws.push(raw);
    }
    return ok(composeIndex(raws, flags(args, '--annotation')));
  }

  private async trivy(args: string[]): Promise<ExecResult> {
    const cacheDir = flag(args, '--cache-dir');
    if (args[0] === 'image' && args.includes('--download-db-only')) {
      if (!cacheDir) return fail(1, 'FATAL no --cache-dir\n');
      const f = this.opts.dbDownloadFailure;
      if (f) return fail(f.exitCode, f.stderr);
      fs.mkdirSync(path.join(cacheDir, 'db'), { recursive: true });
      fs.writeFileSync(path.join(cacheDir, 'db', 'trivy.db'), 'fake db');
      fs.writeFileSync(path.join(cacheDir, 'db', 'metadata.json'), '{"Version":2}');
      return ok('', 'INFO Downloading vulnerability DB...\n');
    }
    if (args[0] === 'image') {
      if (!cacheDir || !fs.existsSync(path.join(cacheDir, 'db', 'trivy.db'))) {
        return fail(1, 'FATAL Fatal error: --skip-db-update cannot be specified on the first run\n');
      }
      await sleep(this.opts.scanMs ?? 1);
      const reports = this.opts.reports ?? DEFAULT_REPORTS;
      const input = flag(args, '--input');
      let platform: string;
      if (input !== undefined) {
        // A local OCI layout holds one platform; the build's layout dir is named by its slug.
        if (!fs.existsSync(path.join(input, 'oci-layout'))) return fail(1, `FATAL Fatal error: ${input}: not an OCI layout\n`);
        platform = Object.keys(reports).find((p) => p.replace(/\//g, '-') === path.basename(input)) ?? '';
      } else {
        const ref = args[args.length - 1] ?? '';
        if (this.resolveRef(ref) === undefined) return fail(1, `FATAL Fatal error: ${ref}: MANIFEST_UNKNOWN\n`);
        platform = flag(args, '--platform') ?? '';
      }
      const f = this.opts.failScan?.[platform];
      if (f && this.failsAgain(`scan ${platform}`, f.times)) return fail(f.exitCode, f.stderr);
      const report = reports[platform];
      const output = flag(args, '--output');
      if (!report || !output) throw new Error(`fake exec: no trivy report fixture for ${platform} (or no --output)`);
      fs.writeFileSync(output, fixture(report));
      return ok('');
    }
    if (args[0] === 'convert') {
      const output = flag(args, '--output');
      if (!output) return fail(1, 'FATAL no --output\n');
      fs.writeFileSync(output, fixture('trivy/handmade-image-arm64.sarif'));
      return ok('');
    }
    throw new Error(`fake exec: unexpected trivy ${args.join(' ')}`);
  }

  // --- the registry ---

  /** The registry client's fetch, backed by this fake's registry. */
  readonly fetch: typeof fetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    const authorization = headers.get('authorization') ?? undefined;
    const body =
      init.body === undefined || init.body === null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer()).toString('utf8');
    const res = this.serve(url, method, authorization, body, headers.get('content-type') ?? '');
    this.requests.push({ method, url: url.href, ...(authorization ? { authorization } : {}), status: res.status, at: ++this.clock });
    return res;
  };

  private serve(url: URL, method: string, authorization: string | undefined, body: string | undefined, contentType: string): Response {
    if (url.host !== FIXTURE_REGISTRY) return new Response('no such host', { status: 502 });
    const need = this.opts.requireAuth;
    if (need && authorization !== `Basic ${Buffer.from(`${need.username}:${need.password}`).toString('base64')}`) {
      return new Response('{"errors":[{"code":"UNAUTHORIZED"}]}', { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="fake registry"' } });
    }
    if (url.pathname === '/v2/' && method === 'GET') return new Response('{}', { status: 200 });
    const m = new RegExp(`^/v2/${FIXTURE_REPOSITORY}/manifests/([^/]+)$`).exec(url.pathname);
    if (!m) return new Response('{"errors":[{"code":"NAME_UNKNOWN"}]}', { status: 404 });
    const reference = decodeURIComponent(m[1] as string);
    const byDigest = reference.startsWith('sha256:');
    if (method === 'PUT') {
      if (body === undefined) return new Response('{"errors":[{"code":"MANIFEST_INVALID"}]}', { status: 400 });
      const digest = digestOf(body);
      if (byDigest && digest !== reference) return new Response('{"errors":[{"code":"DIGEST_INVALID"}]}', { status: 400 });
      if (contentType && contentType !== mediaTypeOf(body)) return new Response('{"errors":[{"code":"MANIFEST_INVALID"}]}', { status: 400 });
      this.manifests.set(digest, body);
      if (!byDigest) this.tags.set(reference, body);
      return new Response(null, { status: 201, headers: { 'Docker-Content-Digest': digest, Location: url.pathname } });
    }
    if (method === 'GET' || method === 'HEAD') {
      const raw = byDigest ? this.manifests.get(reference) : this.readTag(reference);
      if (raw === undefined) return new Response(method === 'HEAD' ? null : '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', { status: 404 });
      const headers = { 'Content-Type': mediaTypeOf(raw), 'Docker-Content-Digest': digestOf(raw) };
      return new Response(method === 'HEAD' ? null : raw, { status: 200, headers });
    }
    return new Response(null, { status: 405 });
  }
}
