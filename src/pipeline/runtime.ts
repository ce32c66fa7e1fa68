// The one runtime object a run is given: the exec seam, the logger, the clock,
// the environment, installers and the runner's output channels. main builds
// the real one; tests build fakes. Nothing below main reads process.env: what
// a phase needs from the environment it reads from `env`.
import type { Exec } from '../exec.js';
import type { Logger } from '../log.js';
import type { BinfmtEntry } from '../qemu/plan.js';
import type { PostState } from '../state.js';
import type { LegStore } from '../legs/store.js';
import type { HttpFetch } from '../registry/http.js';

export interface Runtime {
  exec: Exec;
  log: Logger;
  /** The process environment as main saw it (RUNNER_TOOL_CACHE, DOCKER_CONFIG, HOME, ...). */
  env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds since the epoch. */
  now(): number;
  /** When the process and main started (`now()` clock), so the timings cover start-up and inputs too. */
  started?: { process: number; main: number };
  /** This run's own temporary directory (metadata files, DOCKER_CONFIG, reports). */
  tempDir: string;
  /** The working directory tools run in (trivy reads trivy.yaml and .trivyignore there); absent: no scan report is reused or kept. */
  cwd?: string;
  /** Node's process.arch of the host. */
  hostArch: string;
  readBinfmt(): Promise<BinfmtEntry[]>;
  /** Name for a builder this run creates. */
  builderName: string;
  ensureBuildx(): Promise<void>;
  /** The buildx plugin the docker CLI would run, to run it without the CLI in front; absent or undefined: through `docker`. */
  buildxPlugin?: () => string | undefined;
  /** Path of a trivy binary of the wanted version. */
  ensureTrivy(): Promise<string>;
  setOutput(name: string, value: string): void;
  writeSummary(markdown: string): Promise<void>;
  saveState(state: PostState): void;
  /** Masks a secret in every later log line. */
  mask(secret: string): void;
  /** The registry client's HTTP (main: node:http, src/registry/http.ts; tests pass a fake registry). */
  fetchImpl?: HttpFetch;
  /** Aborted when the run is cancelled (SIGTERM/SIGINT to main): in-flight work stops, no tag is written. */
  /** The wait before a tool's second attempt (scan, build push, bootstrap pull); default 2 s. */
  toolBackoffMs?: number;
  signal?: AbortSignal;
  /** Where `mode: platform` leaves its leg record and `merge` finds them; absent without an artifact service. */
  legStore?: LegStore;
}
