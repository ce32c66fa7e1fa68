import { describe, expect, it } from '@jest/globals';
import { formatReference, isValidDigest, isValidRegistry, isValidTag, parseReference } from '../src/reference.js';

const SHA = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['alpine', { registry: 'docker.io', repository: 'library/alpine' }],
    ['alpine:3.20', { registry: 'docker.io', repository: 'library/alpine', tag: '3.20' }],
    ['user/app', { registry: 'docker.io', repository: 'user/app' }],
    ['docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine' }],
    ['index.docker.io/user/app:1', { registry: 'docker.io', repository: 'user/app', tag: '1' }],
    ['ghcr.io/org/app', { registry: 'ghcr.io', repository: 'org/app' }],
    ['ghcr.io/org/team/app:v1.2.3', { registry: 'ghcr.io', repository: 'org/team/app', tag: 'v1.2.3' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/app:dev', { registry: 'localhost:5000', repository: 'app', tag: 'dev' }],
    ['127.0.0.1:5000/org/app:1', { registry: '127.0.0.1:5000', repository: 'org/app', tag: '1' }],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app' }],
    ['Registry.Example.com/app', { registry: 'Registry.Example.com', repository: 'app' }],
    [`ghcr.io/org/app@${SHA}`, { registry: 'ghcr.io', repository: 'org/app', digest: SHA }],
    [`ghcr.io/org/app:1@${SHA}`, { registry: 'ghcr.io', repository: 'org/app', tag: '1', digest: SHA }],
    ['ghcr.io/a.b_c__d--e/f-g:T_1.x-y', { registry: 'ghcr.io', repository: 'a.b_c__d--e/f-g', tag: 'T_1.x-y' }],
    ['  ghcr.io/org/app  ', { registry: 'ghcr.io', repository: 'org/app' }],
  ])('parses %s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it('takes localhost:5000 without a path as an image with a tag, as docker does', () => {
    expect(parseReference('localhost:5000')).toEqual({ registry: 'docker.io', repository: 'library/localhost', tag: '5000' });
  });

  it('accepts a digest with another algorithm per the grammar', () => {
    const digest = `sha512:${'b'.repeat(128)}`;
    expect(parseReference(`ghcr.io/org/app@${digest}`).digest).toBe(digest);
    expect(parseReference(`ghcr.io/org/app@blake3+x:${'c'.repeat(32)}`).digest).toBe(`blake3+x:${'c'.repeat(32)}`);
  });

  it.each([
    ['', 'empty image reference'],
    ['Org/App', 'repository "Org/App" must be lower-case'],
    ['ghcr.io/Org/app', 'repository "Org/app" must be lower-case'],
    ['ghcr.io/org//app', 'repository "org//app" has an empty path component'],
    ['ghcr.io/org/-app', 'repository path component "-app" is not valid (lower-case letters and digits, separated by ., _, __ or -)'],
    ['ghcr.io/org/app.', 'repository path component "app." is not valid (lower-case letters and digits, separated by ., _, __ or -)'],
    ['ghcr.io/org/a___b', 'repository path component "a___b" is not valid (lower-case letters and digits, separated by ., _, __ or -)'],
    ['ghcr.io/', 'no repository name'],
    [':1.0', 'no repository name'],
    ['app:.bad', 'tag ".bad" is not valid (up to 128 of letters, digits, _ . -, not starting with . or -)'],
    ['app:', 'tag "" is not valid (up to 128 of letters, digits, _ . -, not starting with . or -)'],
    [`app:${'t'.repeat(129)}`, `tag "${'t'.repeat(129)}" is not valid (up to 128 of letters, digits, _ . -, not starting with . or -)`],
    ['app@sha256:abc', 'digest "sha256:abc" is not valid (want algorithm:hex, e.g. sha256: and 64 lower-case hex digits)'],
    [
      `app@sha256:${'A'.repeat(64)}`,
      `digest "sha256:${'A'.repeat(64)}" is not valid (want algorithm:hex, e.g. sha256: and 64 lower-case hex digits)`,
    ],
    ['bad_host.io/app', 'registry "bad_host.io" is not a valid host[:port]'],
    ['ghcr.io:port/app', 'registry "ghcr.io:port" is not a valid host[:port]'],
    [`ghcr.io/${'a'.repeat(248)}`, 'name is 256 characters long, more than 255'],
  ])('rejects %j: %s', (input, message) => {
    expect(() => parseReference(input)).toThrow(new Error(message));
  });
});

describe('formatReference', () => {
  it.each([
    ['alpine', 'docker.io/library/alpine'],
    ['user/app:1', 'docker.io/user/app:1'],
    ['127.0.0.1:5000/app:1', '127.0.0.1:5000/app:1'],
    [`ghcr.io/org/app:1@${SHA}`, `ghcr.io/org/app:1@${SHA}`],
  ])('writes %s back as %s', (input, expected) => {
    expect(formatReference(parseReference(input))).toBe(expected);
  });
});

describe('isValidTag, isValidDigest and isValidRegistry', () => {
  it.each([
    ['1.2.3', true],
    ['latest', true],
    ['_x', true],
    ['v1-rc.1_a', true],
    ['t'.repeat(128), true],
    ['t'.repeat(129), false],
    ['.x', false],
    ['-x', false],
    ['Bad:Tag', false],
    ['a/b', false],
    ['', false],
  ])('tag %j is valid: %s', (tag, valid) => {
    expect(isValidTag(tag)).toBe(valid);
  });

  it.each([
    [SHA, true],
    [`sha256:${'a'.repeat(63)}`, false],
    [`sha512:${'f'.repeat(128)}`, true],
    [`sha512:${'f'.repeat(64)}`, false],
    [`other:${'F'.repeat(32)}`, true],
    [`other:${'f'.repeat(31)}`, false],
    ['sha256', false],
  ])('digest %j is valid: %s', (digest, valid) => {
    expect(isValidDigest(digest)).toBe(valid);
  });

  it.each([
    ['ghcr.io', true],
    ['localhost:5000', true],
    ['127.0.0.1:5000', true],
    ['[fe80::1]:443', true],
    ['https://ghcr.io', false],
    ['-bad.io', false],
  ])('registry %j is valid: %s', (registry, valid) => {
    expect(isValidRegistry(registry)).toBe(valid);
  });
});
