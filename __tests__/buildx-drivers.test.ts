// The one table of what each driver supports, and the endpoint rules built on it.
import { describe, expect, test } from '@jest/globals';
import { DRIVERS, DRIVER_NAMES, driverSupport, endpointAccepted, endpointForms, onRunner } from '../src/buildx/drivers.js';

describe('the driver table', () => {
  test('has an entry per driver buildx has, and refuses docker and kubernetes with what to use instead', () => {
    expect(Object.keys(DRIVERS).sort()).toEqual([...DRIVER_NAMES].sort());
    expect(DRIVER_NAMES.filter((d) => !DRIVERS[d].refused)).toEqual(['docker-container', 'remote']);
    expect(DRIVERS.docker.refused).toContain('use docker-container (the default) or remote');
    expect(DRIVERS.kubernetes.refused).toContain('use driver: remote');
    // What the pipeline needs from an accepted driver.
    for (const d of ['docker-container', 'remote'] as const)
      expect([DRIVERS[d].pushByDigest, DRIVERS[d].ociLayout, DRIVERS[d].create]).toEqual([true, true, true]);
    expect(driverSupport('podman')).toBeUndefined();
  });

  test.each([
    ['remote', 'tcp://buildkitd:1234', true],
    ['remote', 'unix:///run/buildkit/buildkitd.sock', true],
    ['remote', 'ssh://me@host', true],
    ['remote', 'kube-pod://buildkitd-0', true],
    ['remote', 'http://buildkitd:1234', false],
    ['remote', 'default', false],
    ['docker-container', 'default', true],
    ['docker-container', 'ssh://me@arm-host', true],
    ['docker-container', 'kube-pod://x', false],
    ['docker-container', 'not a context', false],
  ] as const)('%s takes %s: %s', (driver, endpoint, want) => {
    expect(endpointAccepted(DRIVERS[driver], endpoint)).toBe(want);
  });

  test('says what an endpoint may be', () => {
    expect(endpointForms(DRIVERS['docker-container'])).toBe('a unix://, tcp://, ssh://, npipe:// URL or a docker context name');
  });

  test.each([
    ['docker-container', 'unix:///var/run/docker.sock', true],
    ['docker-container', 'default', true],
    ['docker-container', 'tcp://127.0.0.1:2375', true],
    ['docker-container', 'tcp://10.0.0.2:2375', false],
    ['docker-container', 'ssh://me@arm-host', false],
    ['docker', 'default', true],
    ['remote', 'unix:///run/buildkit/buildkitd.sock', true],
    ['remote', 'docker-container://buildkitd', true],
    ['remote', 'tcp://arm-builder:1234', false],
    ['remote', 'kube-pod://buildkitd-0', false],
    ['kubernetes', 'kubernetes:///b?deployment=b0', false],
  ] as const)('a %s node at %s is on this runner: %s', (driver, endpoint, want) => {
    expect(onRunner(DRIVERS[driver], endpoint)).toBe(want);
  });
});
