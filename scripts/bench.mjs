// `make bench`: the action against the seed recipe and against the critical
// path, on this machine, in one run. Self-contained: the test bed's buildkitd,
// registries and trivy DB, public tools only (docker buildx, trivy, skopeo).
//
// Per workload, each built for linux/amd64, linux/arm64 and linux/arm/v7,
// every platform scanned, the result promoted to the authenticated registry B:
//   action         the bundled action (dist/) run as the runner would run it
//   seed           one `docker buildx build --platform a,b,c --push`, then
//                  `trivy image --platform p` per platform, then
//                  `skopeo copy --all` to registry B
//   critical path  each platform built and pushed alone, then scanned; the
//                  slowest (build + scan) plus the index and the promotion
//   CPU floor      the CPU seconds the whole machine spent on the critical
//                  path's runs (all three legs, index, promotion; every
//                  process, from /proc/stat) over the cores: no schedule of
//                  that work finishes sooner on this machine. Where it is
//                  above the critical path, the work, not the order, bounds a run.
// Rounds alternate action and seed, each with its own cache-busting build arg
// (BENCH_NONCE), so no run reuses another's build cache. Figures are medians,
// and the ratios are printed twice: of the medians, and round by round.
//
// BENCH_ROUNDS=3 (default; the fully cached workload, two seconds a round, runs
// three times as many), BENCH_QUICK=1: one round, the smallest workloads
// (for CI). The Go examples compile under QEMU for minutes per build, so they
// run BENCH_GO_ROUNDS=2 rounds (one with each way first); BENCH_GO=0 leaves them out. BENCH_KEEP=1
// keeps the work directory. BENCH_ONLY=emulation,large,cached,go-naive,go-cross
// runs only the workloads named.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, errorLines, runAction } from './runner.mjs';

const env = process.env;
for (const v of ['TESTBED_REGISTRY', 'TESTBED_AUTH_REGISTRY', 'TESTBED_BUILDKIT_ENDPOINT', 'TESTBED_TRIVY_DB_REPOSITORY', 'TESTBED_CONTEXTS']) {
  if (!env[v]) {
    console.error(`bench: ${v} is not set: run 'make testbed-up' and 'source .testbed/env' (make bench does this)`);
    process.exit(2);
  }
}
const QUICK = env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 1 : Number(env.BENCH_ROUNDS || 3);
const GO_ROUNDS = Number(env.BENCH_GO_ROUNDS || 2);
const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'];
const REG_A = env.TESTBED_REGISTRY;
const REG_B = env.TESTBED_AUTH_REGISTRY;
const AUTH = { user: env.TESTBED_AUTH_USER, password: env.TESTBED_AUTH_PASSWORD };
const RUN_ID = randomBytes(3).toString('hex');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'multiarch-bench-'));
const TRIVY_CACHE = path.join(WORK, 'trivy-cache');
const TOOL_CACHE = path.join(WORK, 'tool-cache');
const SEED_BUILDER = `bench-seed-${RUN_ID}`;
const TRIVY_OFFLINE = ['--skip-db-update', '--skip-java-db-update', '--offline-scan', '--skip-version-check', '--disable-telemetry'];

// --- processes ---------------------------------------------------------------

function run(cmd, args, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0 && !opts.allowFailure) {
    const tail = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} ... exited ${r.status ?? r.signal}:\n${tail}`);
  }
  return { ...r, seconds };
}

const CORES = os.cpus().length;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU seconds the whole machine has spent busy (every process: buildkitd,
 * QEMU, the registries, trivy, the action; steal and idle left out), from
 * /proc/stat. Over a run, divided by the cores, it is the shortest wall time
 * any schedule of that run's work could take on this machine.
 */
function machineBusy() {
  const [user, nice, system, , , irq, softirq] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq) / CLK_TCK;
}

/** `fn()`'s result with the machine's busy CPU seconds while it ran. */
function busyDuring(fn) {
  const b0 = machineBusy();
  const r = fn();
  return { r, busy: machineBusy() - b0 };
}

const slug = (p) => p.replace(/\//g, '-');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// --- workloads -----------------------------------------------------------------

/** busybox-static per target (the test bed's vulnapp context has one per architecture). */
function copyBusybox(dir) {
  fs.cpSync(path.join(env.TESTBED_CONTEXTS, 'vulnapp', 'busybox'), path.join(dir, 'busybox'), { recursive: true });
}

/** A FROM-scratch busybox image whose RUN step is a shell loop: CPU-bound, so QEMU shows its full cost. */
function emulationContext(loops) {
  const dir = path.join(WORK, 'emulation');
  fs.mkdirSync(dir, { recursive: true });
  copyBusybox(dir);
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    [
      'FROM scratch',
      'ARG TARGETARCH',
      'ARG TARGETVARIANT',
      'COPY busybox/${TARGETARCH}${TARGETVARIANT}/busybox /bin/busybox',
      'ARG BENCH_NONCE=none',
      `RUN ["/bin/busybox", "sh", "-c", "echo $BENCH_NONCE > /nonce; i=0; while [ $i -lt ${loops} ]; do i=$((i+1)); done; /bin/busybox uname -m > /arch"]`,
      '',
    ].join('\n'),
  );
  return dir;
}

/** Large layers: a fresh random file per platform (MiB each), so scans, pushes and promotion dominate. */
function largeContext(mib) {
  const dir = path.join(WORK, 'large');
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  copyBusybox(dir);
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    [
      'FROM scratch',
      'ARG TARGETARCH',
      'ARG TARGETVARIANT',
      'COPY busybox/${TARGETARCH}${TARGETVARIANT}/busybox /bin/busybox',
      'ARG BENCH_NONCE=none',
      'COPY data/${TARGETARCH}${TARGETVARIANT}.bin /data/blob.bin',
      'RUN ["/bin/busybox", "sh", "-c", "echo $BENCH_NONCE > /nonce"]',
      '',
    ].join('\n'),
  );
  return {
    dir,
    /** New random bytes before each run, so no layer already exists in either registry. */
    refresh() {
      for (const a of ['amd64', 'arm64', 'armv7']) fs.writeFileSync(path.join(dir, 'data', `${a}.bin`), randomBytes(mib * 1024 * 1024));
    },
  };
}

/** The Go examples' base images (built by the test bed into registry A). */
function baseImagesPresent() {
  return ['library/debian', 'library/golang'].every((repo) => run('regctl', ['tag', 'ls', `${REG_A}/${repo}`], { allowFailure: true }).status === 0);
}

function workloads() {
  const list = [];
  const loops = QUICK ? 100000 : 300000;
  const emulation = emulationContext(loops);
  list.push({ name: `emulation (busybox loop of ${loops})`, key: 'emulation', context: emulation, file: path.join(emulation, 'Dockerfile') });
  // The Go examples: the same program compiled under QEMU (naive) and cross-compiled; no
  // nonce build arg in their Dockerfiles, so every round builds them with --no-cache.
  const goApp = path.join(ROOT, 'examples', 'go-app');
  for (const ex of QUICK || env.BENCH_GO === '0' ? [] : ['go-naive', 'go-cross']) {
    const file = path.join(ROOT, 'examples', ex, 'Dockerfile');
    if (!fs.existsSync(file)) console.log(`(examples/${ex} is not in this checkout: skipped)`);
    else if (!baseImagesPresent()) console.log(`(the test bed's debian and golang images are not in ${REG_A}: examples/${ex} skipped)`);
    else list.push({ name: `examples/${ex}`, key: ex, context: goApp, file, noCache: true, rounds: GO_ROUNDS });
  }
  const mib = QUICK ? 8 : 32;
  const large = largeContext(mib);
  list.push({
    name: `large layers (${mib} MiB random per platform)`,
    key: 'large',
    context: large.dir,
    file: path.join(large.dir, 'Dockerfile'),
    before: large.refresh,
  });
  list.push({
    name: 'fully cached (emulation, nothing changed)',
    key: 'cached',
    context: emulation,
    file: path.join(emulation, 'Dockerfile'),
    cached: true,
    // A round takes about two seconds and the machine's noise is of the size of the differences: three times the rounds.
    rounds: QUICK ? ROUNDS : ROUNDS * 3,
  });
  return list;
}

// --- the three ways --------------------------------------------------------------

const registryAuth = `- registry: ${REG_B}\n  username: ${AUTH.user}\n  password: ${AUTH.password}\n`;

/** The bundled action, as the runner runs it (main, then post where post-if says the runner would). */
function actionRun(w, repo, nonce) {
  const t0 = performance.now();
  const { r, busy } = busyDuring(() =>
    runAction(
      {
        context: w.context,
        file: w.file,
        platforms: PLATFORMS.join(','),
        image: `${REG_A}/${repo}`,
        tags: 'bench',
        'build-args': `BENCH_NONCE=${nonce}`,
        'no-cache': w.noCache ? 'true' : 'false',
        // The seed recipe's builder, made once and untimed: both ways start from a builder
        // (setup() prints what making and removing one costs).
        builder: SEED_BUILDER,
        'trivy-db-repository': env.TESTBED_TRIVY_DB_REPOSITORY,
        'trivy-cache-dir': TRIVY_CACHE,
        'fail-on': 'none',
        'promote-to': `${REG_B}/${repo}:bench`,
        'registry-auth': registryAuth,
      },
      { env: { RUNNER_TOOL_CACHE: TOOL_CACHE } },
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  fs.appendFileSync(path.join(WORK, 'action.log'), `\n===== ${w.key} ${repo} ${nonce}\n${r.log}\n`);
  if (r.exitCode !== 0) throw new Error(`the action failed on ${w.name}: ${errorLines(r).join(' ')} (log: ${path.join(WORK, 'action.log')})`);
  const meta = JSON.parse(r.outputs.metadata ?? '{}');
  const t = meta.timings ?? {};
  return {
    seconds,
    busy,
    main: r.seconds,
    post: seconds - r.seconds,
    overhead: t.waiting !== undefined ? r.seconds - t.waiting : NaN,
    timings: t,
    platforms: meta.platforms ?? {},
  };
}

function buildxBuild(w, platforms, ref, nonce) {
  const args = ['buildx', 'build', '--builder', SEED_BUILDER, '--progress', 'quiet', '--provenance', 'false', '--platform', platforms.join(',')];
  args.push('--build-arg', `BENCH_NONCE=${nonce}`, ...(w.noCache ? ['--no-cache'] : []), '-f', w.file, '-t', ref, '--push', w.context);
  return run('docker', args);
}

function trivyScan(ref, platform) {
  const out = path.join(WORK, `scan-${slug(platform)}.json`);
  return run('trivy', [
    'image',
    '--cache-dir',
    TRIVY_CACHE,
    ...TRIVY_OFFLINE,
    '--quiet',
    '--format',
    'json',
    '--output',
    out,
    '--image-src',
    'remote',
    '--platform',
    platform,
    ref,
  ]);
}

function skopeoCopy(from, to) {
  return run('skopeo', [
    'copy',
    '--all',
    '--quiet',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    '--dest-creds',
    `${AUTH.user}:${AUTH.password}`,
    `docker://${from}`,
    `docker://${to}`,
  ]);
}

/** The seed recipe: one multi-platform build and push, a scan per platform, a copy of everything. */
function seedRun(w, repo, nonce) {
  const t0 = performance.now();
  const { busy } = busyDuring(() => {
    buildxBuild(w, PLATFORMS, `${REG_A}/${repo}:bench`, nonce);
    for (const p of PLATFORMS) trivyScan(`${REG_A}/${repo}:bench`, p);
    skopeoCopy(`${REG_A}/${repo}:bench`, `${REG_B}/${repo}:bench`);
  });
  return { seconds: (performance.now() - t0) / 1000, busy };
}

/** Each platform alone (build + push, scan); the slowest of them plus the index and the promotion. */
function criticalPath(w, repo, nonce) {
  const legs = {};
  for (const p of PLATFORMS) {
    const ref = `${REG_A}/${repo}:cp-${slug(p)}`;
    const b = busyDuring(() => buildxBuild(w, [p], ref, nonce).seconds);
    const s = busyDuring(() => trivyScan(ref, p).seconds);
    legs[p] = { build: b.r, scan: s.r, busy: b.busy + s.busy };
  }
  const refs = PLATFORMS.map((p) => `${REG_A}/${repo}:cp-${slug(p)}`);
  const i = busyDuring(
    () => run('docker', ['buildx', 'imagetools', 'create', '--builder', SEED_BUILDER, '-t', `${REG_A}/${repo}:bench`, ...refs]).seconds,
  );
  const pr = busyDuring(() => skopeoCopy(`${REG_A}/${repo}:bench`, `${REG_B}/${repo}:bench`).seconds);
  const slowest = Math.max(...PLATFORMS.map((p) => legs[p].build + legs[p].scan));
  // All the work of the three legs, the index and the promotion, spread over every core at once.
  const floor = (PLATFORMS.reduce((sum, p) => sum + legs[p].busy, 0) + i.busy + pr.busy) / CORES;
  return { seconds: slowest + i.r + pr.r, legs, index: i.r, promote: pr.r, floor };
}

// --- the run ---------------------------------------------------------------------

function setup() {
  // What a builder's life costs on top (the action creates and removes one when no `builder` is given).
  const probe = `${SEED_BUILDER}-probe`;
  const life = [
    run('docker', ['buildx', 'create', '--name', probe, '--driver', 'remote', env.TESTBED_BUILDKIT_ENDPOINT]).seconds,
    run('docker', ['buildx', 'inspect', '--bootstrap', probe]).seconds,
    run('docker', ['buildx', 'rm', probe]).seconds,
  ];
  console.log(
    `builder life (not in the figures below): create ${life[0].toFixed(2)} s + inspect ${life[1].toFixed(2)} s + rm ${life[2].toFixed(2)} s`,
  );
  run('docker', ['buildx', 'create', '--name', SEED_BUILDER, '--driver', 'remote', env.TESTBED_BUILDKIT_ENDPOINT]);
  run('docker', ['buildx', 'inspect', '--bootstrap', SEED_BUILDER]);
  // The DB once, for both ways (the action checks it again on every run, as it must).
  run('trivy', [
    'image',
    '--download-db-only',
    '--cache-dir',
    TRIVY_CACHE,
    '--db-repository',
    env.TESTBED_TRIVY_DB_REPOSITORY,
    '--skip-version-check',
    '--disable-telemetry',
    '--quiet',
  ]);
}

function teardown() {
  run('docker', ['buildx', 'rm', SEED_BUILDER], { allowFailure: true });
  if (env.BENCH_KEEP !== '1') fs.rmSync(WORK, { recursive: true, force: true });
}

function benchWorkload(w) {
  const rows = { action: [], seed: [], cp: [] };
  const repo = (way) => `bench/${w.key}-${way}-${RUN_ID}`;
  if (w.cached) {
    // Warm every cache once (untimed): builds, pushed blobs, scans' layer cache, registry B.
    actionRun(w, repo('action'), 'cached');
    seedRun(w, repo('seed'), 'cached');
    criticalPath(w, repo('cp'), 'cached');
  }
  for (let r = 0; r < (w.rounds ?? ROUNDS); r++) {
    const nonce = (way) => (w.cached ? 'cached' : `${RUN_ID}-${r}-${way}`);
    const order = r % 2 === 0 ? ['action', 'seed'] : ['seed', 'action'];
    // Fresh inputs before each way: a COPY does not depend on the nonce, so a way run after
    // another on the same files would find that way's layers in BuildKit's cache.
    for (const way of order) {
      w.before?.();
      rows[way].push(way === 'action' ? actionRun(w, repo('action'), nonce('action')) : seedRun(w, repo('seed'), nonce('seed')));
    }
    w.before?.();
    rows.cp.push(criticalPath(w, repo('cp'), nonce('cp')));
    const a = rows.action.at(-1);
    console.log(
      `  round ${r + 1}: action ${a.seconds.toFixed(1)} s (main ${a.main.toFixed(1)}, post ${a.post.toFixed(2)}, own overhead ${a.overhead.toFixed(2)}), seed ${rows.seed.at(-1).seconds.toFixed(1)} s, critical path ${rows.cp.at(-1).seconds.toFixed(1)} s`,
    );
  }
  return rows;
}

function figure(label, value, unit = 's') {
  console.log(`  ${label.padEnd(34)} ${typeof value === 'number' ? value.toFixed(unit === 'x' ? 2 : 2) : value}${unit === 'x' ? 'x' : ` ${unit}`}`);
}

function report(w, rows) {
  const action = median(rows.action.map((x) => x.seconds));
  const seed = median(rows.seed.map((x) => x.seconds));
  const cp = median(rows.cp.map((x) => x.seconds));
  console.log(`${w.name}: medians of ${rows.action.length} round(s)`);
  figure('action (main + post)', action);
  figure('seed recipe', seed);
  figure('critical path', cp);
  figure('  of which index', median(rows.cp.map((x) => x.index)));
  figure('  of which promotion', median(rows.cp.map((x) => x.promote)));
  const floor = median(rows.cp.map((x) => x.floor));
  figure(`CPU floor on ${CORES} cores`, floor);
  figure('action / seed', action / seed, 'x');
  figure('action / critical path', action / cp, 'x');
  figure('action / max(cp, CPU floor)', action / Math.max(cp, floor), 'x');
  // Round by round (the ways of one round ran minutes apart at most, so a drift of the machine's speed cancels out).
  const paired = (way) => {
    const ratios = rows.action.map((a, i) => a.seconds / rows[way][i].seconds).sort((x, y) => x - y);
    return `${median(ratios).toFixed(2)}x (rounds ${ratios[0].toFixed(2)}-${ratios.at(-1).toFixed(2)})`;
  };
  figure('action / seed, per round', paired('seed'), '');
  figure('action / critical path, per round', paired('cp'), '');
  figure(
    'machine busy: action, seed',
    `${median(rows.action.map((x) => x.busy)).toFixed(2)} / ${median(rows.seed.map((x) => x.busy)).toFixed(2)} CPU-s`,
    '',
  );
  figure("action's own overhead", median(rows.action.map((x) => x.overhead)));
  figure('action post step', median(rows.action.map((x) => x.post)));
  const phases = rows.action.at(-1).timings;
  console.log(`  action phases (last round): ${JSON.stringify(phases)}`);
  return { action, seed, cp, rows };
}

/** Issue 10's figure: legs on native runners, each building in the native amd64 time of the same work. */
function distributed(w, rows) {
  const legs = PLATFORMS.map((p) => median(rows.cp.map((c) => c.legs['linux/amd64'].build + c.legs[p].scan)));
  const merge = median(rows.cp.map((c) => c.index + c.promote));
  const sim = Math.max(...legs) + merge;
  const all = median(rows.action.map((x) => x.seconds));
  console.log(`distributed (SIMULATION) for ${w.name}:`);
  console.log('  each leg = the linux/amd64 solo build of the same work (what a native runner would take)');
  console.log("           + that platform's measured scan; merge = the measured index + promotion;");
  console.log("  runner start-up, artifact upload/download and the legs' own fixed costs are not included.");
  figure('distributed (simulated)', sim);
  figure('mode: all under QEMU (measured)', all);
  figure('distributed / all', sim / all, 'x');
}

function crossVsNaive(results) {
  const naive = results['go-naive'];
  const cross = results['go-cross'];
  if (!naive || !cross) return;
  console.log("examples/go-cross vs examples/go-naive (the action's per-platform build times, medians):");
  for (const p of PLATFORMS) {
    const n = median(naive.rows.action.map((x) => x.timings.build?.[p] ?? NaN));
    const c = median(cross.rows.action.map((x) => x.timings.build?.[p] ?? NaN));
    figure(`${p}: naive ${n.toFixed(1)} s, cross ${c.toFixed(1)} s`, c / n, 'x');
  }
}

const started = performance.now();
console.log(
  `multiarch bench: ${ROUNDS} round(s)${QUICK ? ' (BENCH_QUICK)' : ''}, ${PLATFORMS.join(', ')}; ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${new Date().toISOString()}`,
);
try {
  setup();
  const results = {};
  const only = env.BENCH_ONLY ? env.BENCH_ONLY.split(',').map((k) => k.trim()) : undefined;
  for (const w of workloads().filter((x) => !only || only.includes(x.key))) {
    console.log(`\n== ${w.name}`);
    results[w.key] = report(w, benchWorkload(w));
    if (w.key === 'emulation') distributed(w, results[w.key].rows);
  }
  console.log('');
  crossVsNaive(results);
  console.log(`\nbench took ${((performance.now() - started) / 1000).toFixed(0)} s`);
} finally {
  teardown();
}
