#!/usr/bin/env node
// The fault campaign: N runs (CAMPAIGN_RUNS, default 20) of build + scan +
// promote through two fault proxies (testbed/faultproxy.mjs) in front of
// registry A and registry B, at CAMPAIGN_RATE (default 0.2) on every fault
// and request kind, with seed i for run i. Each run must either succeed, with
// every tag in A and B resolving to `digest` and every child present, or fail
// with one message that names the operation and the registry, leaving zero
// tags in A and in B. Prints one line per run and the figures:
// how many succeeded and how many registry retries the runs used.
//   source .testbed/env && node scripts/fault-campaign.mjs
// CAMPAIGN_PR=1 runs PR mode instead (push false: reads only, nothing written).
// CAMPAIGN_PARALLEL (default 1) runs that many at once, each with its own
// proxies, repositories and seed: the same runs, in less wall time.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, errorLines, runActionAsync } from './runner.mjs';

const env = process.env;
const need = (name) => {
  if (!env[name]) throw new Error(`${name} is not set: run 'make testbed-up' and 'source .testbed/env'`);
  return env[name];
};
const RUNS = Number(env.CAMPAIGN_RUNS ?? 20);
const RATE = Number(env.CAMPAIGN_RATE ?? 0.2);
/** The rate on registry A alone (default: RATE); 0 puts faults on the promotion path to B only. */
const RATE_A = Number(env.CAMPAIGN_RATE_A ?? RATE);
const FIRST_SEED = Number(env.CAMPAIGN_FIRST_SEED ?? 1);
const PR = env.CAMPAIGN_PR === '1';
const PARALLEL = Math.max(1, Number(env.CAMPAIGN_PARALLEL ?? 1));
const A = need('TESTBED_REGISTRY');
const B = need('TESTBED_AUTH_REGISTRY');
const USER = need('TESTBED_AUTH_USER');
const PASSWORD = need('TESTBED_AUTH_PASSWORD');
const PROXY = env.TESTBED_FAULTPROXY ?? path.join(ROOT, 'testbed/faultproxy.mjs');
const PORTS = (env.TESTBED_FAULTPROXY_PORTS ?? '5100 5101 5102 5103 5104 5105 5106 5107 5108 5109').split(/\s+/).filter(Boolean).map(Number);

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const auth = (registry) => (registry === B ? { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` } : {});

async function manifest(registry, repo, ref) {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT, ...auth(registry) } });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`manifest ${registry}/${repo}:${ref}: HTTP ${res.status}`);
  const raw = Buffer.from(await res.arrayBuffer());
  return { digest: `sha256:${createHash('sha256').update(raw).digest('hex')}`, json: JSON.parse(raw.toString('utf8')) };
}

async function tags(registry, repo) {
  const res = await fetch(`http://${registry}/v2/${repo}/tags/list`, { headers: auth(registry) });
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`tags ${registry}/${repo}: HTTP ${res.status}`);
  return ((await res.json()).tags ?? []).sort();
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Starts one proxy on `port` (0: any); resolves with its address, log reader and stop(). */
function startProxy(upstream, port, seed, logFile, rate = RATE) {
  const args = [PROXY, '--upstream', upstream, '--listen', `127.0.0.1:${port}`, '--seed', String(seed), '--rate', String(rate)];
  args.push('--faults', 'all', '--kinds', 'all', '--max-requests', '20000', '--max-seconds', '900', '--stall-seconds', '8', '--log', logFile);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (!out.includes('\n')) return;
      const p = Number(out.split('\n')[0]);
      resolve({
        addr: `127.0.0.1:${p}`,
        requests: () =>
          fs
            .readFileSync(logFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
            .filter((r) => r.event === 'request'),
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
    void exited.then((code) => reject(new Error(`faultproxy exited (${code}) before listening`)));
  });
}

async function reservedProxy(upstream, seed, logFile) {
  for (const port of [...PORTS.slice(2), ...PORTS.slice(0, 2)]) {
    if (!(await portFree(port))) continue;
    try {
      return await startProxy(upstream, port, seed, logFile, RATE_A);
    } catch {
      // taken meanwhile: the next one
    }
  }
  throw new Error(`every fault-proxy port is taken: ${PORTS.join(' ')}`);
}

/** Every tag of `repo` resolves to `digest` and every child of the index is there. */
async function wholeAt(registry, repo, tagList, digest) {
  const problems = [];
  for (const t of tagList) {
    const m = await manifest(registry, repo, t);
    if (m?.digest !== digest) problems.push(`${registry}/${repo}:${t} resolves to ${m?.digest ?? 'nothing'}`);
    for (const c of m?.json.manifests ?? []) {
      if ((await manifest(registry, repo, c.digest))?.digest !== c.digest) problems.push(`${registry}/${repo}@${c.digest} missing`);
    }
  }
  return problems;
}

async function oneRun(seed) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `campaign-${seed}-`));
  const pa = await reservedProxy(A, seed, path.join(dir, 'a.jsonl'));
  const pb = await startProxy(B, 0, seed + 100000, path.join(dir, 'b.jsonl'));
  const id = randomBytes(3).toString('hex');
  const repo = `campaign/app-${seed}-${id}`;
  const target = `campaign/dst-${seed}-${id}`;
  const inputs = {
    context: `${need('TESTBED_CONTEXTS')}/vulnapp`,
    platforms: 'linux/amd64,linux/arm64',
    image: `${pa.addr}/${repo}`,
    tags: '1.0',
    driver: 'remote',
    endpoint: need('TESTBED_BUILDKIT_ENDPOINT'),
    'trivy-db-repository': need('TESTBED_TRIVY_DB_REPOSITORY').replace(A, pa.addr),
    'fail-on': 'critical',
    'build-args': `FAIL_ARCH=campaign-${seed}-${id}`,
    'registry-timeout': '5',
    ...(PR
      ? { push: 'false' }
      : { 'promote-to': `${pb.addr}/${target}:1.0`, 'registry-auth': `- registry: ${pb.addr}\n  username: ${USER}\n  password: ${PASSWORD}\n` }),
  };
  const run = await runActionAsync(inputs, PR ? { eventName: 'pull_request' } : {});
  fs.writeFileSync(path.join(dir, 'run.log'), `${run.stdout}\n${run.stderr ?? ''}`);
  await pa.stop();
  await pb.stop();
  const retries = Number(/registry retries used: (\d+) of/.exec(run.stdout)?.[1] ?? 0);
  // Tool runs retried (a trivy scan or a build push that failed on a registry), counted in the same budget.
  const toolRetries = (run.stdout.match(/: (?:scan|build) attempt \d+ failed \(.*\), retrying/g) ?? []).length;
  const faultsA = pa.requests().filter((r) => r.fault !== 'none').length;
  const faultsB = pb.requests().filter((r) => r.fault !== 'none').length;
  const bPuts = pb.requests().filter((r) => r.kind === 'manifest-put' && r.upstreamStatus === 201).length;
  const aTags = await tags(A, repo);
  const bTags = await tags(B, target);
  const problems = [];
  let verdict;
  if (run.exitCode === 0) {
    verdict = 'promoted';
    const digest = run.outputs.digest;
    if (!digest) problems.push('no digest output');
    if (PR) {
      verdict = 'composed';
      if (aTags.length) problems.push(`PR mode tagged ${aTags.join(', ')} in A`);
      if (pa.requests().some((r) => ['manifest-put', 'upload-post', 'upload-put', 'upload-patch'].includes(r.kind)))
        problems.push('PR mode wrote to A');
    } else {
      problems.push(...(await wholeAt(A, repo, ['1.0'], digest)), ...(await wholeAt(B, target, ['1.0'], digest)));
    }
  } else {
    verdict = 'failed cleanly';
    const message = errorLines(run).join('\n');
    if (!/\d+\.\d+\.\d+\.\d+:\d+|registry|trivy|buildx|docker/.test(message))
      problems.push(`message names no operation or registry: ${message.slice(0, 200)}`);
    if (aTags.length) problems.push(`tags left in A: ${aTags.join(', ')}`);
    if (bTags.length) problems.push(`tags left in B: ${bTags.join(', ')}`);
    run.message = message.split('\n')[0];
  }
  if (problems.length) verdict = 'BROKEN';
  return { seed, verdict, problems, retries, toolRetries, dir, faultsA, faultsB, bPuts, seconds: run.seconds, message: run.message ?? '' };
}

const results = [];
let nextSeed = FIRST_SEED;
async function worker() {
  while (nextSeed < FIRST_SEED + RUNS) {
    const seed = nextSeed++;
    const r = await oneRun(seed);
    results.push(r);
    const tail = r.verdict === 'failed cleanly' ? ` - ${r.message.slice(0, 220)}` : '';
    console.log(
      `seed ${seed}: ${r.verdict} in ${r.seconds.toFixed(0)} s (faults injected A ${r.faultsA}, B ${r.faultsB}; registry retries ${r.retries}, of them scan/build reruns ${r.toolRetries}; manifest PUTs that reached B ${r.bPuts})${tail}`,
    );
    for (const p of r.problems) console.log(`  ! ${p}`);
    if (r.verdict !== 'promoted' && r.verdict !== 'composed') console.log(`  log: ${r.dir}/run.log`);
  }
}
const started = Date.now();
await Promise.all(Array.from({ length: Math.min(PARALLEL, RUNS) }, worker));
const ok = results.filter((r) => r.verdict === 'promoted' || r.verdict === 'composed').length;
const clean = results.filter((r) => r.verdict === 'failed cleanly').length;
const broken = results.filter((r) => r.verdict === 'BROKEN').length;
const retries = results.map((r) => r.retries);
console.log(
  `fault campaign${PR ? ' (PR mode)' : ''}: ${ok} of ${RUNS} runs succeeded, ${clean} failed cleanly, ${broken} broke the promise; ` +
    `rate ${RATE_A} on A, ${RATE} on B; registry retries per run max ${Math.max(...retries)}, total ${retries.reduce((a, b) => a + b, 0)}, of them scan/build reruns ${results.reduce((a, r) => a + r.toolRetries, 0)} (budget 100 per run, 5 attempts per request); ${PARALLEL} at a time, ${((Date.now() - started) / 1000).toFixed(0)} s wall`,
);
process.exit(broken ? 1 : 0);
