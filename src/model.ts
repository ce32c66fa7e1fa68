// Types shared across phases. Types that mirror external JSON (buildx metadata,
// imagetools manifests, trivy reports) live under src/types/ next to their guards.

/** A normalised target platform, e.g. { os: 'linux', arch: 'arm', variant: 'v7' }. */
export interface Platform {
  os: string;
  arch: string;
  variant?: string;
  /** Canonical string form: `os/arch[/variant]`, e.g. `linux/arm/v7`. */
  id: string;
}

/** A parsed image reference (OCI distribution grammar). */
export interface ImageRef {
  /** Registry host[:port], e.g. `ghcr.io`, `127.0.0.1:5000`, `docker.io`. */
  registry: string;
  /** Repository path without the registry, e.g. `org/app`, `library/alpine`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export type Tristate = 'auto' | 'true' | 'false';
/** `all` runs everything in one process; `plan`, `platform` and `merge` are the jobs of a distributed run. */
export type Mode = 'all' | 'plan' | 'platform' | 'merge';

/** The runner a platform's leg runs on: one label, or a set of labels (self-hosted). */
export interface RunnerAssignment {
  platform: Platform;
  runner: string | string[];
}
export type Severity = 'UNKNOWN' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export type FailOn = 'critical' | 'high' | 'medium' | 'low' | 'none';

export interface RegistryAuth {
  registry: string;
  username: string;
  password: string;
}

/**
 * Every action input, parsed and validated once by getInputs(). Keyed by the
 * action.yml names (camel-cased).
 */
export interface Inputs {
  // build
  context: string;
  file: string;
  platforms: Platform[];
  /** platform id -> Dockerfile path, from `platform-files`. */
  platformFiles: Record<string, string>;
  buildArgs: string[];
  labels: string[];
  annotations: string[];
  target: string;
  secrets: string[];
  cacheFrom: string[];
  cacheTo: string[];
  noCache: boolean;
  provenance: string;
  sbom: string;
  image: string;
  /** Full references for the manifest list (bare tags already expanded against `image`). */
  tags: string[];
  /** Resolved from `push` (auto -> false on pull_request / pull_request_target). */
  push: boolean;
  // qemu
  qemu: Tristate;
  /** The binfmt image of a registration: the one that served of `qemuImages` (the first until then). */
  qemuImage: string;
  /** `qemu-image`: one reference per line, pulled in order until one serves. */
  qemuImages: string[];
  /** `buildkit-image`: the docker-container driver's buildkit image, one per line, pulled in order; [] = buildx's default. */
  buildkitImages: string[];
  // builder
  builder: string;
  driver: string;
  driverOpts: string[];
  endpoint: string;
  buildkitdConfig: string;
  buildkitdConfigInline: string;
  /** From `nodes`: one builder node per entry (empty for a one-node builder). */
  nodes: BuilderNodeSpec[];
  buildxVersion: string;
  /** Where buildx releases are downloaded from (no trailing slash). */
  buildxBaseUrl: string;
  /** 0 means all platforms at once. */
  maxParallel: number;
  // scan
  scan: boolean;
  severity: Severity[];
  failOn: FailOn;
  ignoreUnfixed: boolean;
  trivyignores: string[];
  scanners: string[];
  trivyVersion: string;
  trivyBaseUrl: string;
  /** Tried in order, one after another on failure; empty: trivy's defaults. */
  trivyDbRepositories: string[];
  /** The same for the Java DB (fetched only when an image has JAR files). */
  trivyJavaDbRepositories: string[];
  trivyCacheDir: string;
  sarif: string;
  /** Push each platform's CycloneDX SBOM as an OCI referrer of its manifest (files only when not pushing). */
  sbomAttach: boolean;
  // promote
  promoteTo: string[];
  registryAuth: RegistryAuth[];
  /** Seconds a registry request may go without a byte flowing before it is aborted as stalled. */
  registryTimeout: number;
  platformTags: string;
  /** Pushes to ghcr.io when neither registry-auth nor the docker config has credentials for it. */
  githubToken: string;
  // distribute
  mode: Mode;
  /** One per platform, in `platforms` order, from `runners` and the defaults. */
  runners: RunnerAssignment[];
  /** The leg's platform (`mode: platform` only). */
  platform?: Platform;
  /** Keeps the leg records of two builds of one image in one run apart. */
  legKey: string;
}

/** One line of the `nodes` input: the platforms a node serves and its endpoint. */
export interface BuilderNodeSpec {
  platforms: Platform[];
  endpoint: string;
}

/** The result of one platform's build. */
export interface PlatformBuild {
  platform: Platform;
  /** Image-manifest digest (never an index or attestation). */
  digest: string;
  /**
   * What the build pushed or wrote: the same as `digest`, or the digest of a
   * per-platform index that also holds attestation manifests (provenance/SBOM).
   * The manifest list is made from these, so attestations are carried along.
   */
  pushedDigest: string;
  /** `<image>@<digest>` when pushed; an OCI layout path when not. */
  ref: string;
  /** Present when built to a local OCI layout (push: false). */
  ociLayout?: string;
  seconds: number;
  /** Sum of config and layer sizes of the image manifest, in bytes. */
  size: number;
  /** Under QEMU on this runner (false for a remote node: its emulation is its own). */
  emulated: boolean;
  /** The builder node that built it, when known. */
  node?: string;
  /** True when that node is not on this runner's docker (remote, another docker host). */
  remoteNode?: boolean;
  /** Each step of the build, in the order it started (from buildx's rawjson progress). */
  steps?: BuildStep[];
}

/** One vertex of a platform's build: a Dockerfile step, an internal load, the export. */
export interface BuildStep {
  /** As buildkit names it, e.g. `[2/3] RUN make`. */
  name: string;
  /** Milliseconds since the epoch; absent for a step that never started (cached or cancelled). */
  started?: number;
  completed?: number;
  seconds: number;
  cached: boolean;
  /** The step's error, when it failed (or was cancelled by another step's failure). */
  error?: string;
}

/** How long each phase of a run took, in seconds (the `metadata` output's `timings`). */
export interface PhaseTimings {
  /** From the start of main to the pipeline's start: reading and checking the inputs. */
  inputs?: number;
  registries?: number;
  builder?: number;
  qemu?: number;
  /** Platform id -> its build's wall time. */
  build: Record<string, number>;
  /** Platform id -> its scan's wall time. */
  scan: Record<string, number>;
  index?: number;
  promotion?: number;
  /** From the start of main until the outputs were written. */
  total?: number;
  /** Of `total`, the time spent waiting on child processes and registry transfers (overlaps counted once). */
  waiting?: number;
}
