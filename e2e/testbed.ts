// Access to the running test bed for end-to-end tests: its addresses (from
// .testbed/env, sourced by `make e2e`) and direct registry look-ups over the
// distribution API, independent of the tools under test.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run 'make testbed-up' and 'source .testbed/env'`);
  return v;
}

export const bed = {
  get registry(): string {
    return need('TESTBED_REGISTRY');
  },
  get authRegistry(): string {
    return need('TESTBED_AUTH_REGISTRY');
  },
  get authUser(): string {
    return need('TESTBED_AUTH_USER');
  },
  get authPassword(): string {
    return need('TESTBED_AUTH_PASSWORD');
  },
  get buildkitEndpoint(): string {
    return need('TESTBED_BUILDKIT_ENDPOINT');
  },
  get trivyDbRepository(): string {
    return need('TESTBED_TRIVY_DB_REPOSITORY');
  },
  get contexts(): string {
    return need('TESTBED_CONTEXTS');
  },
  get logDir(): string {
    return need('TESTBED_LOG_DIR');
  },
  /** The buildkit image for `driver-opts: image=` (in registry A). */
  get buildkitImage(): string {
    return need('TESTBED_BUILDKIT_IMAGE');
  },
  /** The binfmt image for `qemu-image`. */
  get binfmtImage(): string {
    return need('TESTBED_BINFMT_IMAGE');
  },
  /** A local busybox image (linux/amd64), made by `docker import`. */
  get busyboxImage(): string {
    return need('TESTBED_BUSYBOX_IMAGE');
  },
  /** A buildkitd.toml that reaches the test bed's registries over http. */
  get buildkitdConfig(): string {
    return need('TESTBED_BUILDKITD_CONFIG');
  },
  /** The `nodes` input value: `platform[,platform...]=endpoint` per line. */
  get buildkitNodes(): string {
    return need('TESTBED_BUILDKIT_NODES');
  },
};

/** The lines of a `nodes` value as platforms and endpoint. */
export function parseNodes(value: string): { platforms: string[]; endpoint: string }[] {
  return value
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const i = l.indexOf('=');
      return { platforms: l.slice(0, i).split(','), endpoint: l.slice(i + 1) };
    });
}

/** A repository name no other test uses. */
export function uniqueRepo(prefix: string): string {
  return `e2e/${prefix}-${randomBytes(4).toString('hex')}`;
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

function authHeader(registry: string, auth?: { user: string; password: string }): Record<string, string> {
  if (!auth && registry === process.env.TESTBED_AUTH_REGISTRY) auth = { user: bed.authUser, password: bed.authPassword };
  return auth ? { Authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` } : {};
}

export async function listTags(registry: string, repo: string): Promise<string[]> {
  const res = await fetch(`http://${registry}/v2/${repo}/tags/list`, { headers: authHeader(registry) });
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`tags/list ${registry}/${repo}: HTTP ${res.status}`);
  const body = (await res.json()) as { tags?: string[] | null };
  return (body.tags ?? []).sort();
}

export interface Manifest {
  digest: string;
  raw: string;
  json: {
    mediaType?: string;
    manifests?: {
      digest: string;
      mediaType: string;
      platform?: { os: string; architecture: string; variant?: string };
      annotations?: Record<string, string>;
    }[];
    layers?: { digest: string; size: number }[];
    config?: { digest: string; size: number };
  };
}

/** GET a manifest by tag or digest; the digest is computed from the bytes, and checked against the header. */
export async function getManifest(registry: string, repo: string, ref: string): Promise<Manifest | undefined> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT, ...authHeader(registry) } });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`manifest ${registry}/${repo}:${ref}: HTTP ${res.status}`);
  const raw = Buffer.from(await res.arrayBuffer());
  const digest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  const header = res.headers.get('docker-content-digest');
  if (header && header !== digest) throw new Error(`registry digest ${header} differs from content ${digest}`);
  return { digest, raw: raw.toString('utf8'), json: JSON.parse(raw.toString('utf8')) as Manifest['json'] };
}

/** The platforms of an index, as `os/arch[/variant]`, attestation entries left out. */
export function indexPlatforms(m: Manifest): string[] {
  return (m.json.manifests ?? [])
    .filter((d) => d.platform && d.platform.os !== 'unknown')
    .map((d) => [d.platform?.os, d.platform?.architecture, d.platform?.variant].filter(Boolean).join('/'))
    .sort();
}

export function platformDigests(m: Manifest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of m.json.manifests ?? []) {
    if (!d.platform || d.platform.os === 'unknown') continue;
    out[[d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/')] = d.digest;
  }
  return out;
}

/** Reads one file out of an image with regctl (a tool of the test bed, not of the action). */
export function imageFile(ref: string, file: string, platform?: string): string {
  const args = ['image', 'get-file', ...(platform ? ['--platform', platform] : []), ref, file];
  return execFileSync('regctl', args, { encoding: 'utf8' }).trim();
}

/** Every repository and tag of a registry, for "nothing changed" checks. */
export async function registrySnapshot(registry: string): Promise<Record<string, string[]>> {
  const res = await fetch(`http://${registry}/v2/_catalog?n=10000`, { headers: authHeader(registry) });
  if (!res.ok) throw new Error(`_catalog ${registry}: HTTP ${res.status}`);
  const body = (await res.json()) as { repositories?: string[] };
  const out: Record<string, string[]> = {};
  for (const repo of body.repositories ?? []) out[repo] = await listTags(registry, repo);
  return out;
}

/**
 * Every file path under a registry's storage directory: any push (even an
 * untagged blob or manifest) adds one, so equal fingerprints mean no write.
 */
export function storageFingerprint(name: 'registry-a' | 'registry-b'): string[] {
  const root = `${need('TESTBED_STATE_DIR')}/${name}/storage`;
  const out = execFileSync('find', [root, '-type', 'f'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return out.split('\n').filter(Boolean).sort();
}

/** The lines of a test-bed registry's access log so far (`<logDir>/<name>.log`). */
export function registryLog(name: 'registry-a' | 'registry-b'): string[] {
  return fs.readFileSync(path.join(bed.logDir, `${name}.log`), 'utf8').split('\n');
}

/**
 * Action inputs for a run against the test bed: the vulnapp context for three
 * platforms, pushed to registry A as `repo`, through the remote builder, with
 * trivy's DB from registry A. `extra` overrides or adds inputs.
 */
export function actionInputs(repo: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    context: `${bed.contexts}/vulnapp`,
    platforms: 'linux/amd64,linux/arm64,linux/arm/v7',
    image: `${bed.registry}/${repo}`,
    tags: '1.0.0',
    driver: 'remote',
    endpoint: bed.buildkitEndpoint,
    'trivy-db-repository': bed.trivyDbRepository,
    ...extra,
  };
}
