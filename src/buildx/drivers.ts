// What each buildx driver supports, written once. Input parsing, builder
// creation and QEMU planning all read this table. The reasons for each entry
// are in docs/decisions.md ("Drivers").

export const DRIVER_NAMES = ['docker-container', 'remote', 'kubernetes', 'docker'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export interface DriverSupport {
  name: DriverName;
  /**
   * Why the action refuses this driver (for `driver`, and for an existing
   * `builder` of it), with what to use instead; undefined when it is accepted.
   */
  refused?: string;
  /** `buildx create` can make a builder of it (the docker driver exists per docker context). */
  create: boolean;
  driverOpts: boolean;
  /** The only driver-opts keys it takes, when buildx checks them (undefined: not checked here). */
  driverOptKeys?: readonly string[];
  /** `--buildkitd-config` (the remote driver refuses one: "setting config file is not supported"). */
  buildkitdConfig: boolean;
  /** The `endpoint` input: a buildkitd address (remote), a docker endpoint or context, or none. */
  endpoint: 'required' | 'optional' | 'none';
  /** URL schemes an endpoint (or a `nodes` endpoint) may use. */
  endpointSchemes: readonly string[];
  /** A docker context name is an endpoint too. */
  contextName: boolean;
  /** Several nodes (`nodes`, `buildx create --append`). */
  nodes: boolean;
  /** Each platform pushed on its own by digest (`push-by-digest=true`). */
  pushByDigest: boolean;
  /** `type=oci` output (push: false writes one OCI layout per platform). */
  ociLayout: boolean;
  /**
   * Whether QEMU on the runner can matter for its nodes: a node whose
   * processes run on this runner's kernel (its endpoint is on this host, see
   * onRunner) emulates through the runner's binfmt_misc. A kubernetes node
   * never runs here: its emulation is its own host's.
   */
  runnerQemu: boolean;
}

const DOCKER_SCHEMES = ['unix', 'tcp', 'ssh', 'npipe'] as const;

export const DRIVERS: Readonly<Record<DriverName, DriverSupport>> = {
  'docker-container': {
    name: 'docker-container',
    create: true,
    driverOpts: true,
    buildkitdConfig: true,
    endpoint: 'optional',
    endpointSchemes: DOCKER_SCHEMES,
    contextName: true,
    nodes: true,
    pushByDigest: true,
    ociLayout: true,
    runnerQemu: true,
  },
  remote: {
    name: 'remote',
    create: true,
    driverOpts: true,
    // buildx driver/remote/factory.go New()
    driverOptKeys: ['servername', 'cacert', 'cert', 'key', 'default-load'],
    buildkitdConfig: false,
    endpoint: 'required',
    // buildx driver/remote/util/endpoint.go
    endpointSchemes: ['docker-container', 'kube-pod', 'npipe', 'ssh', 'tcp', 'unix'],
    contextName: false,
    nodes: true,
    pushByDigest: true,
    ociLayout: true,
    runnerQemu: true,
  },
  kubernetes: {
    name: 'kubernetes',
    refused:
      'is not supported: nothing proves it here (no cluster on the test bed); run buildkitd in your cluster and use driver: remote with its endpoint (tcp://... or kube-pod://...)',
    create: true,
    driverOpts: true,
    buildkitdConfig: true,
    endpoint: 'none',
    endpointSchemes: [],
    contextName: false,
    nodes: true,
    pushByDigest: true,
    ociLayout: true,
    runnerQemu: false,
  },
  docker: {
    name: 'docker',
    refused:
      'cannot push each platform by digest or write OCI layouts (the docker driver needs the containerd image store for both); use docker-container (the default) or remote',
    create: false,
    driverOpts: false,
    buildkitdConfig: false,
    endpoint: 'none',
    endpointSchemes: [],
    contextName: true,
    nodes: false,
    pushByDigest: false,
    ociLayout: false,
    runnerQemu: true,
  },
};

export function isDriverName(name: string): name is DriverName {
  return (DRIVER_NAMES as readonly string[]).includes(name);
}

/** The table's entry for a driver name as buildx prints it; undefined for one it does not know. */
export function driverSupport(name: string): DriverSupport | undefined {
  return isDriverName(name) ? DRIVERS[name] : undefined;
}

/** Whether `endpoint` is an address this driver takes: a URL of one of its schemes, or a context name. */
export function endpointAccepted(d: DriverSupport, endpoint: string): boolean {
  const m = /^([a-z][a-z0-9+.-]*):\/\/\S+$/.exec(endpoint);
  if (m) return d.endpointSchemes.includes(m[1] as string);
  return d.contextName && /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(endpoint);
}

/** A phrase listing what an endpoint of this driver may be, for errors. */
export function endpointForms(d: DriverSupport): string {
  const urls = d.endpointSchemes.map((s) => `${s}://`).join(', ');
  return d.contextName ? `a ${urls} URL or a docker context name` : `a ${urls} URL`;
}

/**
 * Whether a node of this driver at `endpoint` (as `buildx inspect` prints it)
 * runs on this runner's kernel, so that the runner's binfmt_misc is what
 * emulates for it: a unix or npipe socket, a loopback tcp address, a
 * `docker-container://` buildkitd (a container of this runner's docker) or,
 * for the docker drivers, a context name. ssh, other tcp hosts and kube-pod
 * are elsewhere.
 */
export function onRunner(d: DriverSupport, endpoint: string): boolean {
  if (!d.runnerQemu) return false;
  if (endpoint === '' || /^(?:unix|npipe|docker-container):\/\//.test(endpoint)) return true;
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)/.exec(endpoint);
  if (tcp) return ['127.0.0.1', 'localhost', '[::1]'].includes(tcp[1] as string);
  return d.contextName && !/^[a-z][a-z0-9+.-]*:\/\//.test(endpoint);
}
