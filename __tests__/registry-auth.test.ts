import { describe, expect, it } from '@jest/globals';
import { apiBase, basicHeader, credentialsFor, isLoopback, parseChallenge, tokenUrl, type Challenge } from '../src/registry/auth.js';
import type { RegistryAuth } from '../src/model.js';

describe('parseChallenge', () => {
  it.each<[string, string | null | undefined, Challenge | undefined]>([
    ['Basic with a realm', 'Basic realm="Registry Realm"', { scheme: 'basic', realm: 'Registry Realm' }],
    ['Basic without parameters', 'Basic', { scheme: 'basic' }],
    [
      'Bearer as Docker Hub sends it',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      { scheme: 'bearer', realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' },
    ],
    [
      'Bearer with a comma inside a quoted scope',
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull,push"',
      { scheme: 'bearer', realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:org/app:pull,push' },
    ],
    [
      'Bearer with escaped quotes in a value',
      'Bearer realm="https://auth.test/token",service="the \\"main\\" registry"',
      { scheme: 'bearer', realm: 'https://auth.test/token', service: 'the "main" registry' },
    ],
    [
      'lower-case scheme, spaces around "=" and ","',
      'bearer realm = "https://auth.test/token" , service = "reg"',
      { scheme: 'bearer', realm: 'https://auth.test/token', service: 'reg' },
    ],
    ['unquoted values', 'Bearer realm=https://auth.test/token,service=reg', { scheme: 'bearer', realm: 'https://auth.test/token', service: 'reg' }],
    [
      'parameter names in any case; unknown ones ignored',
      'Bearer Realm="https://auth.test/token",SERVICE="reg",error="insufficient_scope"',
      { scheme: 'bearer', realm: 'https://auth.test/token', service: 'reg' },
    ],
    ['an unknown scheme', 'Negotiate abc123', undefined],
    ['an empty header', '', undefined],
    ['no header', null, undefined],
    ['only spaces', '   ', undefined],
  ])('%s', (_name, header, expected) => {
    expect(parseChallenge(header)).toEqual(expected);
  });
});

describe('isLoopback and apiBase', () => {
  it.each<[string, boolean, string]>([
    ['127.0.0.1:5000', true, 'http://127.0.0.1:5000'],
    ['127.0.0.1', true, 'http://127.0.0.1'],
    ['127.1.2.3:5000', true, 'http://127.1.2.3:5000'],
    ['localhost', true, 'http://localhost'],
    ['localhost:5000', true, 'http://localhost:5000'],
    ['[::1]', true, 'http://[::1]'],
    ['[::1]:5000', true, 'http://[::1]:5000'],
    ['docker.io', false, 'https://registry-1.docker.io'],
    ['index.docker.io', false, 'https://registry-1.docker.io'],
    ['ghcr.io', false, 'https://ghcr.io'],
    ['registry.example.com:5000', false, 'https://registry.example.com:5000'],
    ['10.0.0.5:5000', false, 'https://10.0.0.5:5000'],
    ['localhost.example.com', false, 'https://localhost.example.com'],
    ['127.0.0.1.nip.io', false, 'https://127.0.0.1.nip.io'],
  ])('%s: loopback %s, API at %s', (registry, loopback, base) => {
    expect(isLoopback(registry)).toBe(loopback);
    expect(apiBase(registry)).toBe(base);
  });
});

describe('credentialsFor', () => {
  const hub: RegistryAuth = { registry: 'docker.io', username: 'hub-user', password: 'hub-pass' };
  const ghcr: RegistryAuth = { registry: 'ghcr.io', username: 'gh-user', password: 'gh-pass' };
  const local: RegistryAuth = { registry: '127.0.0.1:5000', username: 'l', password: 'p' };

  it.each<[string, readonly RegistryAuth[], RegistryAuth | undefined]>([
    ['docker.io', [ghcr, hub], hub],
    ['index.docker.io', [ghcr, hub], hub],
    ['registry-1.docker.io', [ghcr, hub], hub],
    ['ghcr.io', [ghcr, hub], ghcr],
    ['127.0.0.1:5000', [local], local],
    ['127.0.0.1:5001', [local], undefined],
    ['quay.io', [ghcr, hub], undefined],
    ['docker.io', [], undefined],
  ])('%s', (registry, auths, expected) => {
    expect(credentialsFor(registry, auths)).toBe(expected);
  });

  it('credentials given for index.docker.io apply to docker.io', () => {
    const legacy: RegistryAuth = { registry: 'index.docker.io', username: 'u', password: 'p' };
    expect(credentialsFor('docker.io', [legacy])).toBe(legacy);
  });

  it('the first matching entry wins', () => {
    const second: RegistryAuth = { registry: 'index.docker.io', username: 'other', password: 'x' };
    expect(credentialsFor('docker.io', [hub, second])).toBe(hub);
  });
});

describe('basicHeader', () => {
  it('is base64 of user:password', () => {
    expect(basicHeader({ registry: 'r', username: 'user', password: 'p:ss' })).toBe(`Basic ${Buffer.from('user:p:ss').toString('base64')}`);
  });
});

describe('tokenUrl', () => {
  it('adds the service and one scope parameter per scope', () => {
    const url = new URL(
      tokenUrl({ scheme: 'bearer', realm: 'https://auth.docker.io/token', service: 'registry.docker.io' }, [
        'repository:org/app:pull,push',
        'repository:library/alpine:pull',
      ]),
    );
    expect(url.origin + url.pathname).toBe('https://auth.docker.io/token');
    expect(url.searchParams.get('service')).toBe('registry.docker.io');
    expect(url.searchParams.getAll('scope')).toEqual(['repository:org/app:pull,push', 'repository:library/alpine:pull']);
  });

  it('keeps a query the realm already has and omits an absent service', () => {
    const url = new URL(tokenUrl({ scheme: 'bearer', realm: 'https://auth.test/token?tenant=a' }, ['repository:x:pull']));
    expect([...url.searchParams]).toEqual([
      ['tenant', 'a'],
      ['scope', 'repository:x:pull'],
    ]);
  });

  it('without scopes asks for none', () => {
    expect(tokenUrl({ scheme: 'bearer', realm: 'https://auth.test/token', service: 's' }, [])).toBe('https://auth.test/token?service=s');
  });

  it('refuses a challenge without a realm', () => {
    expect(() => tokenUrl({ scheme: 'bearer', service: 's' }, [])).toThrow('bearer challenge without a realm');
  });
});
