// The builder inputs: an existing builder, or the driver, endpoint (or nodes)
// and buildkitd config of one this action creates; buildx version and
// parallelism. What each driver takes comes from the table in buildx/drivers.ts.
// Pure, apart from the buildkitd-config file check through the reader.
import { DRIVER_NAMES, driverSupport, endpointAccepted, endpointForms, type DriverSupport } from '../buildx/drivers.js';
import type { BuilderNodeSpec, Inputs, Platform } from '../model.js';
import { parsePlatform } from '../platform.js';
import { DEFAULTS } from './defaults.js';
import { fail } from './error.js';
import { keyValues, parseHttpUrl, parseInstallableVersion, q, type InputReader } from './values.js';

export type BuilderInputs = Pick<
  Inputs,
  | 'builder'
  | 'driver'
  | 'driverOpts'
  | 'endpoint'
  | 'buildkitdConfig'
  | 'buildkitdConfigInline'
  | 'nodes'
  | 'buildxVersion'
  | 'buildxBaseUrl'
  | 'maxParallel'
>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/**
 * driver, driver-opts, buildkitd-config(-inline), endpoint, nodes, builder,
 * then their combinations (what the driver table says each driver takes),
 * buildx-*, max-parallel. `platforms` are the parsed `platforms` input: every
 * one must be served by some node when `nodes` is set.
 */
export function parseBuilderInputs(r: InputReader, platforms: readonly Platform[] = []): BuilderInputs {
  const driver = r.line('driver');
  const support = driverSupport(driver);
  if (!support) fail('driver', `${q(driver)} is not one of ${DRIVER_NAMES.join(', ')}`);
  if (support.refused) fail('driver', `${q(driver)} ${support.refused}`);
  const driverOpts = keyValues('driver-opts', r.list('driver-opts', { ignoreComma: true }));
  if (!support.driverOpts && driverOpts.length > 0) fail('driver-opts', `driver ${q(driver)} takes none`);
  const badKey = driverOpts.map((o) => o.slice(0, o.indexOf('='))).find((k) => support.driverOptKeys && !support.driverOptKeys.includes(k));
  if (badKey !== undefined) {
    fail('driver-opts', `${q(badKey)} is not an option of driver ${q(driver)} (it takes ${(support.driverOptKeys ?? []).join(', ')})`);
  }
  const buildkitdConfig = r.line('buildkitd-config');
  if (buildkitdConfig !== '') r.file('buildkitd-config', buildkitdConfig);
  const buildkitdConfigInline = r.read('buildkitd-config-inline');
  if (buildkitdConfig !== '' && buildkitdConfigInline !== '') {
    fail('buildkitd-config-inline', `cannot be used together with buildkitd-config ${q(buildkitdConfig)}; set only one`);
  }
  const endpoint = r.line('endpoint');
  const nodes = parseNodes(r.read('nodes'), support, platforms);
  const builder = r.line('builder');
  if (builder !== '') {
    if (!NAME.test(builder)) fail('builder', `${q(builder)} is not a builder name`);
    const conflicts = [
      driver !== DEFAULTS.driver ? `driver (${q(driver)})` : '',
      driverOpts.length > 0 ? 'driver-opts' : '',
      endpoint !== '' ? 'endpoint' : '',
      nodes.length > 0 ? 'nodes' : '',
      buildkitdConfig !== '' ? 'buildkitd-config' : '',
      buildkitdConfigInline !== '' ? 'buildkitd-config-inline' : '',
    ].filter((c) => c !== '');
    if (conflicts.length > 0) {
      fail('builder', `${q(builder)} is an existing builder, so leave ${conflicts.join(', ')} unset (they configure a builder this action creates)`);
    }
  }
  if (nodes.length > 0 && endpoint !== '') {
    fail('endpoint', `cannot be used together with nodes (each line of nodes names its node's endpoint); set only one`);
  }
  if (!support.buildkitdConfig && (buildkitdConfig !== '' || buildkitdConfigInline !== '')) {
    fail(
      buildkitdConfig !== '' ? 'buildkitd-config' : 'buildkitd-config-inline',
      `driver ${q(driver)} takes no buildkitd config (its daemon has its own)`,
    );
  }
  if (support.endpoint === 'required' && endpoint === '' && nodes.length === 0) {
    fail('endpoint', `is required when driver is ${q(driver)} (or set nodes)`);
  }
  if (endpoint !== '' && !endpointAccepted(support, endpoint)) {
    fail('endpoint', `${q(endpoint)} is not ${endpointForms(support)} (driver ${q(driver)})`);
  }
  const buildxVersionParsed = parseInstallableVersion('buildx-version', r.line('buildx-version'));
  const buildxBaseUrl = parseHttpUrl('buildx-base-url', r.line('buildx-base-url'));
  const maxParallelRaw = r.line('max-parallel');
  if (maxParallelRaw !== '' && !/^[1-9]\d*$/.test(maxParallelRaw)) {
    fail('max-parallel', `${q(maxParallelRaw)} is not a whole number of 1 or more (leave it empty for all platforms at once)`);
  }
  const maxParallel = maxParallelRaw === '' ? 0 : Number(maxParallelRaw);

  return {
    builder,
    driver,
    driverOpts,
    endpoint,
    buildkitdConfig,
    buildkitdConfigInline,
    nodes,
    buildxVersion: buildxVersionParsed,
    buildxBaseUrl,
    maxParallel,
  };
}

/**
 * `nodes`: one `platform[,platform...]=endpoint` per line (blank lines and
 * `#` comments skipped). Endpoints must be ones the driver takes, each used
 * once (buildx refuses a duplicate), and every `platforms` entry must be
 * served by some node.
 */
export function parseNodes(text: string, support: DriverSupport, platforms: readonly Platform[]): BuilderNodeSpec[] {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) return [];
  if (!support.nodes) fail('nodes', `driver ${q(support.name)} has no multi-node builders`);
  const nodes: BuilderNodeSpec[] = [];
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0 || eq === line.length - 1) fail('nodes', `${q(line)} is not of the form platform[,platform...]=endpoint`);
    const list = line.slice(0, eq).trim();
    const endpoint = line.slice(eq + 1).trim();
    const nodePlatforms = list.split(',').map((p) => {
      try {
        return parsePlatform(p);
      } catch (err) {
        return fail('nodes', `${(err as Error).message} (in ${q(line)})`);
      }
    });
    if (!endpointAccepted(support, endpoint)) {
      fail('nodes', `${q(endpoint)} is not ${endpointForms(support)} (driver ${q(support.name)}, in ${q(line)})`);
    }
    if (nodes.some((n) => n.endpoint === endpoint)) fail('nodes', `endpoint ${q(endpoint)} is given twice (buildx takes each endpoint once)`);
    nodes.push({ platforms: nodePlatforms, endpoint });
  }
  const served = new Set(nodes.flatMap((n) => n.platforms.map((p) => p.id)));
  const missing = platforms.filter((p) => !served.has(p.id)).map((p) => p.id);
  if (missing.length > 0) {
    fail('nodes', `no node serves ${missing.join(', ')} (from platforms); add it to a node's platforms`);
  }
  return nodes;
}
