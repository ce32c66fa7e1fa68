// The builder inputs: an existing builder, or the driver, endpoint and
// buildkitd config of one this action creates; buildx version and parallelism.
// Pure, apart from the buildkitd-config file check through the reader.
import type { Inputs } from '../model.js';
import { DEFAULTS } from './defaults.js';
import { fail } from './error.js';
import { keyValues, parseHttpUrl, parseInstallableVersion, q, type InputReader } from './values.js';

export type BuilderInputs = Pick<
  Inputs,
  'builder' | 'driver' | 'driverOpts' | 'endpoint' | 'buildkitdConfig' | 'buildkitdConfigInline' | 'buildxVersion' | 'buildxBaseUrl' | 'maxParallel'
>;

const DRIVERS = ['docker-container', 'remote', 'kubernetes', 'docker'];
const REMOTE_ENDPOINT = /^(?:unix|tcp|docker-container|kube-pod):\/\/\S+$/;
const DOCKER_ENDPOINT = /^(?:unix|tcp|ssh|npipe):\/\/\S+$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/** driver, driver-opts, buildkitd-config(-inline), endpoint, builder, then their combinations, buildx-*, max-parallel. */
export function parseBuilderInputs(r: InputReader): BuilderInputs {
  const driver = r.line('driver');
  if (!DRIVERS.includes(driver)) fail('driver', `${q(driver)} is not one of ${DRIVERS.join(', ')}`);
  const driverOpts = keyValues('driver-opts', r.list('driver-opts', { ignoreComma: true }));
  const buildkitdConfig = r.line('buildkitd-config');
  if (buildkitdConfig !== '') r.file('buildkitd-config', buildkitdConfig);
  const buildkitdConfigInline = r.read('buildkitd-config-inline');
  if (buildkitdConfig !== '' && buildkitdConfigInline !== '') {
    fail('buildkitd-config-inline', `cannot be used together with buildkitd-config ${q(buildkitdConfig)}; set only one`);
  }
  const endpoint = r.line('endpoint');
  const builder = r.line('builder');
  if (builder !== '') {
    if (!NAME.test(builder)) fail('builder', `${q(builder)} is not a builder name`);
    const conflicts = [
      driver !== DEFAULTS.driver ? `driver (${q(driver)})` : '',
      driverOpts.length > 0 ? 'driver-opts' : '',
      endpoint !== '' ? 'endpoint' : '',
      buildkitdConfig !== '' ? 'buildkitd-config' : '',
      buildkitdConfigInline !== '' ? 'buildkitd-config-inline' : '',
    ].filter((c) => c !== '');
    if (conflicts.length > 0) {
      fail('builder', `${q(builder)} is an existing builder, so leave ${conflicts.join(', ')} unset (they configure a builder this action creates)`);
    }
  }
  if (driver === 'docker' && (driverOpts.length > 0 || buildkitdConfig !== '' || buildkitdConfigInline !== '')) {
    fail('driver', `"docker" takes no driver-opts, buildkitd-config or buildkitd-config-inline (use docker-container)`);
  }
  if (driver === 'remote' && endpoint === '') fail('endpoint', 'is required when driver is "remote"');
  if (driver === 'remote' && !REMOTE_ENDPOINT.test(endpoint)) {
    fail('endpoint', `${q(endpoint)} is not a unix://, tcp://, docker-container:// or kube-pod:// URL`);
  }
  if (driver !== 'remote' && endpoint !== '' && !DOCKER_ENDPOINT.test(endpoint) && !NAME.test(endpoint)) {
    fail('endpoint', `${q(endpoint)} is neither a docker endpoint URL nor a docker context name`);
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
    buildxVersion: buildxVersionParsed,
    buildxBaseUrl,
    maxParallel,
  };
}
