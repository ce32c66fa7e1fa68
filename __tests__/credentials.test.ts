import { afterEach, beforeEach, describe, expect, it, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  authKey,
  authString,
  credsStoreOf,
  dockerConfigDir,
  dockerConfigAuths,
  dockerConfigJson,
  readDockerConfigAuths,
  writeDockerConfig,
} from '../src/credentials.js';
import type { RegistryAuth } from '../src/model.js';

const ghcr: RegistryAuth = { registry: 'ghcr.io', username: 'octo', password: 'ghp_s3cret' };
const hub: RegistryAuth = { registry: 'docker.io', username: 'me', password: 'dckr_pat_x:y' };
const local: RegistryAuth = { registry: '127.0.0.1:5001', username: 'testbed', password: 'pw' };

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('authKey', () => {
  test.each([
    ['docker.io', 'https://index.docker.io/v1/'],
    ['index.docker.io', 'https://index.docker.io/v1/'],
    ['registry-1.docker.io', 'https://index.docker.io/v1/'],
    ['ghcr.io', 'ghcr.io'],
    ['127.0.0.1:5001', '127.0.0.1:5001'],
  ])('%s -> %s', (registry, key) => {
    expect(authKey(registry)).toBe(key);
  });
});

describe('dockerConfigJson', () => {
  it('writes base64(user:password) under each registry, Docker Hub under its index key', () => {
    const config = JSON.parse(dockerConfigJson([ghcr, hub, local])) as { auths: Record<string, { auth: string }> };
    expect(config).toEqual({
      auths: {
        'ghcr.io': { auth: b64('octo:ghp_s3cret') },
        'https://index.docker.io/v1/': { auth: b64('me:dckr_pat_x:y') },
        '127.0.0.1:5001': { auth: b64('testbed:pw') },
      },
    });
    expect(authString(hub)).toBe(b64('me:dckr_pat_x:y'));
  });

  it("keeps the user's own config and other logins, and lays ours over a login to the same registry", () => {
    const existing = JSON.stringify({
      auths: { 'ghcr.io': { auth: b64('old:old') }, 'quay.io': { auth: b64('q:q') } },
      proxies: { default: { httpProxy: 'http://proxy:3128' } },
      psFormat: 'table {{.ID}}',
    });
    const config = JSON.parse(dockerConfigJson([ghcr], existing)) as Record<string, unknown>;
    expect(config).toEqual({
      auths: { 'ghcr.io': { auth: b64('octo:ghp_s3cret') }, 'quay.io': { auth: b64('q:q') } },
      proxies: { default: { httpProxy: 'http://proxy:3128' } },
      psFormat: 'table {{.ID}}',
    });
  });

  it('drops a credential helper for a registry we log in to (it would be asked instead), keeping the others', () => {
    const existing = JSON.stringify({ credHelpers: { 'ghcr.io': 'gh', 'https://index.docker.io/v1/': 'pass', 'gcr.io': 'gcloud' } });
    const config = JSON.parse(dockerConfigJson([ghcr, hub], existing)) as { credHelpers: Record<string, string> };
    expect(config.credHelpers).toEqual({ 'gcr.io': 'gcloud' });
  });

  test.each([
    ['not JSON', '{not json'],
    ['an array', '[1,2]'],
    ['null', 'null'],
    ['empty', ''],
  ])('starts from nothing when the existing config is %s', (_name, existing) => {
    expect(JSON.parse(dockerConfigJson([local], existing))).toEqual({ auths: { '127.0.0.1:5001': { auth: b64('testbed:pw') } } });
  });
});

describe('dockerConfigAuths', () => {
  it('reads auth and username/password entries, Docker Hub by its index key, URLs to their host', () => {
    const json = JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('me:p:w') },
        'https://ghcr.io/v2/': { username: 'octo', password: 'x' },
        'quay.io': { auth: b64('nocolon') },
        'empty.io': {},
        'bad.io': 'nope',
      },
    });
    expect(dockerConfigAuths(json)).toEqual([
      { registry: 'docker.io', username: 'me', password: 'p:w' },
      { registry: 'ghcr.io', username: 'octo', password: 'x' },
    ]);
  });

  test.each(['{', '{}', '{"auths":null}', '"x"'])('finds none in %s', (json) => {
    expect(dockerConfigAuths(json)).toEqual([]);
  });
});

describe('writeDockerConfig', () => {
  let tempDir: string;
  let userDir: string;

  beforeEach(() => {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creds-run-'));
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creds-user-'));
  });

  afterEach(() => {
    fs.rmSync(tempDir, { recursive: true, force: true });
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('writes config.json (0600) in a 0700 directory under the temp dir and returns the env pointing at it', () => {
    const run = writeDockerConfig(tempDir, [local], userDir);
    expect(run.dir).toBe(path.join(tempDir, 'docker-config'));
    expect(run.env).toEqual({ DOCKER_CONFIG: run.dir, BUILDX_CONFIG: path.join(userDir, 'buildx') });
    const file = path.join(run.dir, 'config.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(run.dir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ auths: { '127.0.0.1:5001': { auth: b64('testbed:pw') } } });
    // cli-plugins is linked to the user's (not yet existing) plugins folder.
    expect(fs.readlinkSync(path.join(run.dir, 'cli-plugins'))).toBe(path.join(userDir, 'cli-plugins'));
    // The user's own directory is left as it was.
    expect(fs.readdirSync(userDir)).toEqual([]);
  });

  it("merges the user's config.json and links their cli-plugins so docker still finds buildx", () => {
    fs.writeFileSync(path.join(userDir, 'config.json'), JSON.stringify({ auths: { 'quay.io': { auth: b64('q:q') } } }));
    fs.mkdirSync(path.join(userDir, 'cli-plugins'));
    fs.writeFileSync(path.join(userDir, 'cli-plugins', 'docker-buildx'), '#!/bin/sh\n');
    const run = writeDockerConfig(tempDir, [ghcr], userDir);
    const config = JSON.parse(fs.readFileSync(path.join(run.dir, 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
    expect(Object.keys(config.auths).sort()).toEqual(['ghcr.io', 'quay.io']);
    const link = path.join(run.dir, 'cli-plugins');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(link)).toBe(path.join(userDir, 'cli-plugins'));
    expect(fs.existsSync(path.join(link, 'docker-buildx'))).toBe(true);
  });

  it('a buildx plugin installed after the config is written (registry-auth plus buildx-version, no buildx yet) is found through it', () => {
    const run = writeDockerConfig(tempDir, [ghcr], userDir);
    // The user dir is left as it was: no cli-plugins folder is made there.
    expect(fs.readdirSync(userDir)).toEqual([]);
    // ensureBuildx then installs the plugin into the user's dir, as on a runner without buildx.
    fs.mkdirSync(path.join(userDir, 'cli-plugins'));
    fs.writeFileSync(path.join(userDir, 'cli-plugins', 'docker-buildx'), '#!/bin/sh\n');
    expect(fs.existsSync(path.join(run.dir, 'cli-plugins', 'docker-buildx'))).toBe(true);
  });

  it('keeps BUILDX_CONFIG when it is set, so builders are found where they were made', () => {
    expect(writeDockerConfig(tempDir, [local], userDir, '/srv/buildx').env.BUILDX_CONFIG).toBe('/srv/buildx');
  });

  it('reads the user dir from DOCKER_CONFIG, else ~/.docker', () => {
    expect(dockerConfigDir({ DOCKER_CONFIG: userDir, HOME: '/home/runner' })).toBe(userDir);
    expect(dockerConfigDir({ HOME: '/home/runner' })).toBe('/home/runner/.docker');
  });

  it("reads the user's logins for the registry client, and none when there is no config", () => {
    expect(readDockerConfigAuths(userDir)).toEqual([]);
    fs.writeFileSync(path.join(userDir, 'config.json'), JSON.stringify({ auths: { 'ghcr.io': { auth: b64('octo:x') } } }));
    expect(readDockerConfigAuths(userDir)).toEqual([{ registry: 'ghcr.io', username: 'octo', password: 'x' }]);
  });
});

describe('a credsStore in the user config', () => {
  const existing = JSON.stringify({ credsStore: 'desktop', auths: { 'other.io': { auth: 'eDp5' } } });

  it('is left out of the run config, so registry-auth is what docker reads', () => {
    const out = JSON.parse(dockerConfigJson([{ registry: 'ghcr.io', username: 'u', password: 'p' }], existing)) as Record<string, unknown>;
    expect(out.credsStore).toBeUndefined();
    expect(Object.keys(out.auths as object).sort()).toEqual(['ghcr.io', 'other.io']);
  });

  it('is named, so the run can warn about it', () => {
    expect(credsStoreOf(existing)).toBe('desktop');
    expect(credsStoreOf('{}')).toBeUndefined();
    expect(credsStoreOf('not json')).toBeUndefined();
    expect(credsStoreOf(undefined)).toBeUndefined();
  });
});
