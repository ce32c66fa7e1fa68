// Where leg records travel between the jobs of one workflow run: the runner's
// artifact service. github.com (and act's --artifact-server-path) serve the v4
// "results" API that upload-artifact@v4+ uses; GitHub Enterprise Server serves
// only the v3 "pipelines" API of upload-artifact@v3 (act serves it too).
// Records are a few KB, so each is one file: created, uploaded in one piece,
// finalized; listed and fetched back by name. See docs/decisions.md for why
// this is not @actions/artifact.
import { createHash } from 'node:crypto';

export interface StoredLeg {
  name: string;
}

export interface LegStore {
  /** Which service, for the log: `artifact API v4` or `artifact API v3`. */
  readonly api: string;
  put(name: string, bytes: Buffer): Promise<void>;
  /** Artifacts of this run whose name starts with `prefix`. */
  list(prefix: string): Promise<StoredLeg[]>;
  get(leg: StoredLeg): Promise<Buffer>;
}

const SERVICE = 'twirp/github.actions.results.api.v1.ArtifactService';
/** Azure blob REST version for the block upload (the signed URL is a SAS URL on github.com). */
const BLOB_VERSION = '2023-11-03';

interface BackendIds {
  workflow_run_backend_id: string;
  workflow_job_run_backend_id: string;
}

/** The run and job ids the results service wants, from the runtime token's `Actions.Results:<run>:<job>` scope. */
export function backendIds(token: string): BackendIds {
  const payload = token.split('.')[1] ?? '';
  let scp: unknown;
  try {
    scp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { scp?: unknown }).scp;
  } catch {
    scp = undefined;
  }
  const scope = typeof scp === 'string' ? scp.split(' ').find((s) => s.startsWith('Actions.Results:')) : undefined;
  const parts = scope?.split(':') ?? [];
  if (parts.length !== 3 || !parts[1] || !parts[2])
    throw new Error('ACTIONS_RUNTIME_TOKEN has no Actions.Results scope: the artifact service cannot be used');
  return { workflow_run_backend_id: parts[1], workflow_job_run_backend_id: parts[2] };
}

/** protojson writes lowerCamelCase; the library's clients write the proto names. Accept both. */
function field(obj: unknown, snake: string): unknown {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const camel = snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const o = obj as Record<string, unknown>;
  return o[snake] ?? o[camel];
}

export interface ResultsStoreOptions {
  /** ACTIONS_RESULTS_URL */
  resultsUrl: string;
  /** ACTIONS_RUNTIME_TOKEN */
  token: string;
  retentionDays?: number;
  fetchImpl?: typeof fetch;
}

export function resultsStore(opts: ResultsStoreOptions): LegStore {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const ids = backendIds(opts.token);
  const base = new URL(opts.resultsUrl).origin;

  async function call(method: string, body: object): Promise<unknown> {
    const res = await fetchImpl(`${base}/${SERVICE}/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${opts.token}` },
      body: JSON.stringify({ ...ids, ...body }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`artifact service ${method}: HTTP ${res.status} ${text.slice(0, 200)}`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`artifact service ${method}: the answer is not JSON`);
    }
  }

  async function send(url: string, init: RequestInit, what: string): Promise<Response> {
    const res = await fetchImpl(url, init);
    if (!res.ok) throw new Error(`artifact ${what}: HTTP ${res.status}`);
    return res;
  }

  return {
    api: 'artifact API v4',
    async put(name, bytes) {
      const expires = opts.retentionDays ? { expires_at: new Date(Date.now() + opts.retentionDays * 86_400_000).toISOString() } : {};
      const created = await call('CreateArtifact', { name, version: 4, ...expires });
      const url = field(created, 'signed_upload_url');
      if (field(created, 'ok') !== true || typeof url !== 'string') throw new Error(`artifact service refused to create ${name}`);
      const blockId = Buffer.from('leg-record-0000').toString('base64');
      const headers = { 'x-ms-version': BLOB_VERSION };
      await send(`${url}&comp=block&blockid=${encodeURIComponent(blockId)}`, { method: 'PUT', headers, body: bytes }, `${name} upload`);
      const list = `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>${blockId}</Latest></BlockList>`;
      await send(
        `${url}&comp=blocklist`,
        { method: 'PUT', headers: { ...headers, 'Content-Type': 'application/xml' }, body: list },
        `${name} commit`,
      );
      const hash = createHash('sha256').update(bytes).digest('hex');
      const done = await call('FinalizeArtifact', { name, size: String(bytes.length), hash: `sha256:${hash}` });
      if (field(done, 'ok') !== true) throw new Error(`artifact service refused to finalize ${name}`);
    },
    async list(prefix) {
      const answer = await call('ListArtifacts', {});
      const artifacts = field(answer, 'artifacts');
      if (!Array.isArray(artifacts)) return [];
      const names = artifacts.map((a) => field(a, 'name')).filter((n): n is string => typeof n === 'string' && n.startsWith(prefix));
      return [...new Set(names)].sort().map((name) => ({ name }));
    },
    async get(leg) {
      const answer = await call('GetSignedArtifactURL', { name: leg.name });
      const url = field(answer, 'signed_url');
      if (typeof url !== 'string' || url === '') throw new Error(`artifact service has no download URL for ${leg.name}`);
      const res = await send(url, { method: 'GET' }, `${leg.name} download`);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}

export interface PipelinesStoreOptions {
  /** ACTIONS_RUNTIME_URL */
  runtimeUrl: string;
  /** ACTIONS_RUNTIME_TOKEN */
  token: string;
  /** GITHUB_RUN_ID */
  runId: string;
  retentionDays?: number;
  fetchImpl?: typeof fetch;
}

const API_VERSION = '6.0-preview';

/** The v3 artifact API (GHES): a file container per artifact, one file `record.json` in it. */
export function pipelinesStore(opts: PipelinesStoreOptions): LegStore {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const base = `${opts.runtimeUrl.replace(/\/*$/, '/')}_apis/pipelines/workflows/${encodeURIComponent(opts.runId)}/artifacts?api-version=${API_VERSION}`;
  const headers = { Authorization: `Bearer ${opts.token}`, Accept: `application/json;api-version=${API_VERSION}` };

  async function send(url: string, init: RequestInit, what: string): Promise<Response> {
    const res = await fetchImpl(url, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
    if (!res.ok) throw new Error(`artifact service ${what}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res;
  }
  async function json(url: string, init: RequestInit, what: string): Promise<unknown> {
    try {
      return (await (await send(url, init, what)).json()) as unknown;
    } catch (err) {
      if (err instanceof SyntaxError) throw new Error(`artifact service ${what}: the answer is not JSON`, { cause: err });
      throw err;
    }
  }
  async function containers(): Promise<{ name: string; url: string }[]> {
    const answer = field(await json(base, { method: 'GET' }, 'list'), 'value');
    if (!Array.isArray(answer)) return [];
    return answer.flatMap((a) => {
      const name = field(a, 'name');
      const url = field(a, 'fileContainerResourceUrl');
      return typeof name === 'string' && typeof url === 'string' ? [{ name, url }] : [];
    });
  }

  return {
    api: 'artifact API v3',
    async put(name, bytes) {
      const created = await json(
        base,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ Type: 'actions_storage', Name: name, ...(opts.retentionDays ? { RetentionDays: opts.retentionDays } : {}) }),
        },
        `create ${name}`,
      );
      const container = field(created, 'fileContainerResourceUrl');
      if (typeof container !== 'string') throw new Error(`artifact service gave no container for ${name}`);
      const item = `${container}${container.includes('?') ? '&' : '?'}itemPath=${encodeURIComponent(`${name}/record.json`)}`;
      const range = { 'Content-Type': 'application/octet-stream', 'Content-Range': `bytes 0-${bytes.length - 1}/${bytes.length}` };
      await send(item, { method: 'PUT', headers: range, body: bytes }, `upload ${name}`);
      await send(
        `${base}&artifactName=${encodeURIComponent(name)}`,
        { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Size: bytes.length }) },
        `finalize ${name}`,
      );
    },
    async list(prefix) {
      return (await containers())
        .filter((c) => c.name.startsWith(prefix))
        .map((c) => ({ name: c.name }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },
    async get(leg) {
      const c = (await containers()).find((x) => x.name === leg.name);
      if (!c) throw new Error(`artifact service has no artifact ${leg.name}`);
      const items = field(
        await json(`${c.url}${c.url.includes('?') ? '&' : '?'}itemPath=${encodeURIComponent(leg.name)}`, { method: 'GET' }, `items of ${leg.name}`),
        'value',
      );
      const file = Array.isArray(items)
        ? items.find((i) => field(i, 'itemType') === 'file' && String(field(i, 'path')).endsWith('record.json'))
        : undefined;
      const location = field(file, 'contentLocation');
      if (typeof location !== 'string') throw new Error(`artifact ${leg.name} holds no record.json`);
      const res = await send(location, { method: 'GET', headers: { Accept: 'application/octet-stream' } }, `download ${leg.name}`);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}

/** GitHub Enterprise Server: any server that is not github.com, *.ghe.com or *.localhost (as @actions/artifact decides). */
export function isGhes(serverUrl: string | undefined): boolean {
  const host = new URL(serverUrl || 'https://github.com').hostname.toLowerCase();
  return host !== 'github.com' && !host.endsWith('.ghe.com') && !host.endsWith('.localhost');
}

/** The run's store, from the variables the runner gives a node action; undefined when it has none. */
export function runnerLegStore(env: Readonly<Record<string, string | undefined>>, fetchImpl?: typeof fetch): LegStore | undefined {
  const token = env.ACTIONS_RUNTIME_TOKEN;
  if (!token) return undefined;
  const f = fetchImpl ? { fetchImpl } : {};
  if (isGhes(env.GITHUB_SERVER_URL)) {
    const runtimeUrl = env.ACTIONS_RUNTIME_URL;
    const runId = env.GITHUB_RUN_ID;
    return runtimeUrl && runId ? pipelinesStore({ runtimeUrl, token, runId, retentionDays: 1, ...f }) : undefined;
  }
  const resultsUrl = env.ACTIONS_RESULTS_URL;
  return resultsUrl ? resultsStore({ resultsUrl, token, retentionDays: 1, ...f }) : undefined;
}
