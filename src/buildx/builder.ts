// The buildx builder: create (or reuse), inspect, remove.
import type { Exec } from '../exec.js';
import { driverSupport } from './drivers.js';
import type { Inputs } from '../model.js';

export interface BuilderNode {
  name: string;
  endpoint: string;
  /** e.g. `running`, `inactive`; empty when the node reports an error instead. */
  status: string;
  /**
   * Platforms the node reports, `*` removed: the ones set with `--platform`
   * first (buildx marks them `*`), then the worker's (commands/inspect.go,
   * platformutil.FormatInGroups).
   */
  platforms: string[];
  /** The ones set with `--platform` at creation (marked `*`). */
  userPlatforms: string[];
  buildkitVersion?: string;
  driverOptions?: string;
  flags?: string;
  error?: string;
}

export interface BuilderInfo {
  name: string;
  driver: string;
  lastActivity?: string;
  error?: string;
  nodes: BuilderNode[];
}

type BuilderInputs = Pick<Inputs, 'driver' | 'driverOpts' | 'endpoint' | 'buildkitdConfig' | 'nodes'>;

/**
 * argv (after `docker`) for each `buildx create` that makes the builder: one
 * for a one-node builder; with `nodes`, one per node, the first creating the
 * builder and the others adding to it with `--append`, each with its
 * `--platform` list and the same driver, driver-opts and buildkitd config.
 * `configFile` is a buildkitd.toml path: the `buildkitd-config` input, or a
 * temp file the caller wrote from `buildkitd-config-inline`. The builder is
 * not made the default (`--use` is never passed); every later call names it
 * with `--builder`.
 */
export function createBuilderArgs(name: string, inputs: BuilderInputs, configFile?: string): string[][] {
  const driver = inputs.driver || 'docker-container';
  const support = driverSupport(driver);
  if (!support) throw new Error(`driver ${JSON.stringify(driver)} is not one buildx has`);
  if (support.refused) throw new Error(`driver ${JSON.stringify(driver)} ${support.refused}`);
  if (support.endpoint === 'required' && !inputs.endpoint && inputs.nodes.length === 0) {
    throw new Error(`driver "${driver}" needs an \`endpoint\` (e.g. tcp://buildkitd:1234 or unix:///run/buildkit/buildkitd.sock)`);
  }
  const common = ['--driver', driver];
  for (const opt of inputs.driverOpts) common.push('--driver-opt', opt);
  const config = configFile ?? inputs.buildkitdConfig;
  if (config) common.push('--buildkitd-config', config);
  if (inputs.nodes.length === 0) {
    return [['buildx', 'create', '--name', name, ...common, ...(inputs.endpoint ? [inputs.endpoint] : [])]];
  }
  return inputs.nodes.map((n, i) => [
    'buildx',
    'create',
    '--name',
    name,
    ...(i > 0 ? ['--append'] : []),
    ...common,
    '--platform',
    n.platforms.map((p) => p.id).join(','),
    n.endpoint,
  ]);
}

export function inspectArgs(name: string, bootstrap = true): string[] {
  return bootstrap ? ['buildx', 'inspect', '--bootstrap', name] : ['buildx', 'inspect', name];
}

export function removeArgs(name: string): string[] {
  return ['buildx', 'rm', name];
}

/** `Key:   value` at column 0 (tabwriter output); indented lines belong to a section. */
const KEY_LINE = /^([A-Za-z][^:\t]*?):(?:[ \t]+(.*))?$/;

/**
 * Parses `docker buildx inspect` text (buildx commands/inspect.go): the
 * builder's Name/Driver/Last Activity/Error, then after `Nodes:` one block per
 * node starting with `Name:`. Indented lines (labels, GC policy, files) are
 * skipped.
 */
export function parseInspect(text: string): BuilderInfo {
  const info: BuilderInfo = { name: '', driver: '', nodes: [] };
  let node: BuilderNode | undefined;
  let inNodes = false;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || /^\s/.test(line)) continue;
    if (line.trim() === 'Nodes:') {
      inNodes = true;
      continue;
    }
    const m = KEY_LINE.exec(line);
    if (!m) continue;
    const key = m[1] as string;
    const value = (m[2] ?? '').trim();
    if (!inNodes) {
      if (key === 'Name') info.name = value;
      else if (key === 'Driver') info.driver = value;
      else if (key === 'Last Activity') info.lastActivity = value;
      else if (key === 'Error') info.error = value;
      continue;
    }
    if (key === 'Name') {
      node = { name: value, endpoint: '', status: '', platforms: [], userPlatforms: [] };
      info.nodes.push(node);
      continue;
    }
    if (!node) continue;
    switch (key) {
      case 'Endpoint':
        node.endpoint = value;
        break;
      case 'Status':
        node.status = value;
        break;
      case 'Error':
        node.error = value;
        break;
      case 'BuildKit version':
        node.buildkitVersion = value;
        break;
      case 'Driver Options':
        node.driverOptions = value;
        break;
      case 'BuildKit daemon flags':
        node.flags = value;
        break;
      case 'Platforms': {
        const listed = value
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '');
        node.platforms = listed.map((p) => p.replace(/\*$/, ''));
        node.userPlatforms = listed.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
        break;
      }
      default:
        break;
    }
  }
  if (!info.name) throw new Error(`not buildx inspect output (no Name line): ${text.slice(0, 200)}`);
  return info;
}

/** Why a builder cannot be used, or undefined when every node is running. */
export function builderProblem(info: BuilderInfo): string | undefined {
  if (info.error) return `builder ${info.name}: ${info.error}`;
  if (info.nodes.length === 0) return `builder ${info.name} has no nodes`;
  for (const n of info.nodes) {
    if (n.error) return `builder ${info.name} node ${n.name}: ${n.error}`;
    if (n.status !== 'running') return `builder ${info.name} node ${n.name} is ${n.status || 'not running'}`;
  }
  return undefined;
}

export interface EnsuredBuilder {
  name: string;
  /** True when this run created it (the post step removes it). */
  created: boolean;
  info: BuilderInfo;
}

async function inspectRunning(exec: Exec, name: string): Promise<BuilderInfo> {
  const { stdout } = await exec('docker', inspectArgs(name, true));
  const info = parseInspect(stdout);
  const problem = builderProblem(info);
  if (problem) throw new Error(problem);
  return info;
}

/**
 * Reuses `inputs.builder` when set (creates nothing); otherwise creates
 * `opts.name` and boots it. A builder this call created and that fails to boot
 * is removed again before the error is thrown.
 */
export async function ensureBuilder(
  exec: Exec,
  inputs: BuilderInputs & Pick<Inputs, 'builder'>,
  opts: { name: string; configFile?: string },
): Promise<EnsuredBuilder> {
  if (inputs.builder) {
    const info = await inspectRunning(exec, inputs.builder);
    const refused = driverSupport(info.driver)?.refused;
    if (refused) throw new Error(`builder ${JSON.stringify(inputs.builder)} uses driver "${info.driver}", which ${refused}`);
    return { name: inputs.builder, created: false, info };
  }
  const creates = createBuilderArgs(opts.name, inputs, opts.configFile);
  await exec('docker', creates[0] as string[]);
  try {
    for (const args of creates.slice(1)) await exec('docker', args);
    return { name: opts.name, created: true, info: await inspectRunning(exec, opts.name) };
  } catch (err) {
    await removeBuilder(exec, opts.name);
    throw err;
  }
}

/** Removes a builder; returns false (never throws) when buildx refuses. */
export async function removeBuilder(exec: Exec, name: string): Promise<boolean> {
  const r = await exec('docker', removeArgs(name), { allowFailure: true });
  return r.exitCode === 0;
}
