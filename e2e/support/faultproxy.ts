// Starts testbed/faultproxy.mjs for a test and reads its JSON-lines log.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FAULTPROXY =
  process.env.TESTBED_FAULTPROXY ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../testbed/faultproxy.mjs');

export interface ProxyRecord {
  event: 'start' | 'request' | 'exit';
  t: number;
  seq?: number;
  kindSeq?: number;
  method?: string;
  path?: string;
  kind?: string;
  fault?: string;
  upstream?: boolean;
  upstreamStatus?: number;
  status?: number;
  promised?: number;
  sent?: number;
  reason?: string;
  /** How long the request took through the proxy, latency included. */
  ms?: number;
  /** start record: the instant (ms since the epoch) every record's t counts from. */
  epochMs?: number;
}

export interface FaultProxy {
  /** 127.0.0.1:PORT */
  addr: string;
  port: number;
  logFile: string;
  child: ChildProcess;
  /** Resolves with the exit code once the proxy has exited (by itself or by stop()). */
  exited: Promise<number | null>;
  records(): ProxyRecord[];
  requests(): ProxyRecord[];
  stop(): Promise<number | null>;
}

export interface FaultProxyOptions {
  upstream: string;
  /** 0 (default) picks a free port; 'reserved' takes a free one of TESTBED_FAULTPROXY_PORTS (plain http in buildkitd). */
  port?: number | 'reserved';
  seed?: number | string;
  rate?: number;
  faults?: string[];
  kinds?: string[];
  decideBy?: 'kind' | 'order';
  maxRequests?: number;
  maxSeconds?: number;
  stallSeconds?: number;
  retryAfter?: number;
  /** Every request held this long before it is answered (a registry a round trip away). */
  latencyMs?: number;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The test bed's reserved proxy ports, 5100 and 5101 (the usual ones for A and B) last. */
export function reservedPorts(): number[] {
  const ports = (process.env.TESTBED_FAULTPROXY_PORTS ?? '5100 5101 5102 5103 5104 5105 5106 5107 5108 5109')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  return [...ports.slice(2), ...ports.slice(0, 2)];
}

function launch(args: string[], logFile: string): Promise<FaultProxy> {
  const child = spawn(process.execPath, [FAULTPROXY, ...args, '--log', logFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const records = (): ProxyRecord[] =>
    fs.existsSync(logFile)
      ? fs
          .readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as ProxyRecord)
      : [];
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n');
      if (line.length < 2) return;
      const port = Number(line[0]);
      resolve({
        addr: `127.0.0.1:${port}`,
        port,
        logFile,
        child,
        exited,
        records,
        requests: () => records().filter((r) => r.event === 'request'),
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
    void exited.then((code) => reject(new Error(`faultproxy exited (${code}) before listening: ${stderr.trim()}`)));
  });
}

export async function startFaultProxy(o: FaultProxyOptions): Promise<FaultProxy> {
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'faultproxy-')), 'log.jsonl');
  const args = ['--upstream', o.upstream, '--seed', String(o.seed ?? 1), '--rate', String(o.rate ?? 0)];
  if (o.faults) args.push('--faults', o.faults.join(','));
  if (o.kinds) args.push('--kinds', o.kinds.join(','));
  if (o.decideBy) args.push('--decide-by', o.decideBy);
  args.push('--max-requests', String(o.maxRequests ?? 5000), '--max-seconds', String(o.maxSeconds ?? 300));
  if (o.stallSeconds !== undefined) args.push('--stall-seconds', String(o.stallSeconds));
  if (o.retryAfter !== undefined) args.push('--retry-after', String(o.retryAfter));
  if (o.latencyMs !== undefined) args.push('--latency-ms', String(o.latencyMs));
  if (o.port !== 'reserved') return launch([...args, '--listen', `127.0.0.1:${o.port ?? 0}`], logFile);
  // Another test run on the same test bed may hold a reserved port: take the first free one.
  for (const port of reservedPorts()) {
    if (!(await portFree(port))) continue;
    try {
      return await launch([...args, '--listen', `127.0.0.1:${port}`], logFile);
    } catch (e) {
      if (!String(e).includes('EADDRINUSE')) throw e;
    }
  }
  throw new Error(`every reserved fault-proxy port is taken: ${reservedPorts().join(' ')}`);
}
