// Input rules for workflows as they are written on github.com: one workflow for
// pushes and (fork) pull requests, `ghcr.io/${{ github.repository }}` images,
// installable versions, ignore files read before anything runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { InputError, type InputEnv, parseInputs } from '../src/context.js';
import { buildAnnotations } from '../src/buildx/build.js';
import { withGithubToken } from '../src/credentials.js';
import { withResultsFile } from '../src/pipeline/results-file.js';
import type { Inputs, RegistryAuth } from '../src/model.js';

const FILES: Record<string, string> = {
  Dockerfile: 'FROM scratch\n',
  '.trivyignore': 'CVE-2099-1\n',
  'extra.trivyignore': '# comment\nCVE-2099-2',
  '.trivyignore.yaml': 'vulnerabilities:\n  - id: CVE-2099-3\n    statement: not reachable\n',
  'empty.yaml': '',
  'bad.yaml': 'vulnerabilities: [oops\n',
  'typo.yaml': 'vulnerability:\n  - id: CVE-2099-4\n',
  'noid.yaml': 'vulnerabilities:\n  - statement: which one?\n',
  'list.yaml': '- id: CVE-2099-5\n',
  'unreadable.trivyignore': '',
};

interface Run {
  inputs?: Inputs;
  error?: InputError;
  notices: string[];
}

function run(values: Record<string, string>, eventName = 'push'): Run {
  const notices: string[] = [];
  const env: InputEnv = {
    eventName,
    exists: (p) => p === '.' || p in FILES,
    isDirectory: (p) => p === '.',
    readFile: (p) => {
      if (p === 'unreadable.trivyignore') throw new Error('EACCES: permission denied');
      const text = FILES[p];
      if (text === undefined) throw new Error(`ENOENT: ${p}`);
      return text;
    },
    notice: (m) => notices.push(m),
  };
  try {
    return { inputs: parseInputs((name) => values[name] ?? '', env), notices };
  } catch (err) {
    if (err instanceof InputError) return { error: err, notices };
    throw err;
  }
}

const PUSH = { image: 'ghcr.io/org/app', tags: '1.0' };
const FORK_AUTH = '- registry: ghcr.io\n  username: someone\n  password: ""\n- registry: docker.io\n  username: ""\n  password: ""';

describe('image, tags and promote-to with capitals in the repository path', () => {
  it.each([
    ['image', { image: 'ghcr.io/MyOrg/My-App', tags: '1.0' }, 'image', 'ghcr.io/myorg/my-app'],
    ['image with a registry port', { image: '127.0.0.1:5000/Org/App', tags: '1.0' }, 'image', '127.0.0.1:5000/org/app'],
    ['image on Docker Hub', { image: 'Org/App', tags: '1.0' }, 'image', 'docker.io/org/app'],
    [
      'a full-reference tag, whose tag keeps its case',
      { image: 'ghcr.io/org/app', tags: 'ghcr.io/Org/App:V1.0-RC' },
      'tags',
      ['ghcr.io/org/app:V1.0-RC'],
    ],
    ['a bare tag, left exactly as written', { image: 'ghcr.io/org/app', tags: 'V1.0' }, 'tags', ['ghcr.io/org/app:V1.0']],
    ['a promote-to target', { ...PUSH, 'promote-to': 'quay.io/Org/App:Stable' }, 'promoteTo', ['quay.io/org/app:Stable']],
  ])('%s', (_name, values, field, expected) => {
    const r = run(values);
    expect(r.error).toBeUndefined();
    expect(r.inputs?.[field as keyof Inputs]).toEqual(expected);
  });

  it('says what it changed, in one notice that names the input', () => {
    const r = run({ image: 'ghcr.io/MyOrg/app', tags: 'ghcr.io/MyOrg/app:V1' });
    expect(r.notices).toEqual([
      'image: "ghcr.io/MyOrg/app" has capitals in its repository path; using "ghcr.io/myorg/app" (repository names are lower-case; tags keep their case)',
      'tags: "ghcr.io/MyOrg/app:V1" has capitals in its repository path; using "ghcr.io/myorg/app:V1" (repository names are lower-case; tags keep their case)',
    ]);
  });

  it('says nothing when the path is already lower-case', () => {
    expect(run({ image: 'GHCR.IO/org/app', tags: 'V1' }).notices).toEqual([]);
  });
});

describe('registry-auth entries with empty credentials', () => {
  it.each([
    // event, extra inputs, kept registries, notices naming the skipped registries
    ['pull_request', {}, [], ['entry 1 (ghcr.io) has no password', 'entry 2 (docker.io) has no username and password']],
    ['pull_request_target', {}, [], ['entry 1 (ghcr.io)', 'entry 2 (docker.io)']],
    ['push', { image: 'quay.io/org/app' }, [], ['entry 1 (ghcr.io)', 'entry 2 (docker.io)']],
    [
      'push',
      {
        image: 'quay.io/org/app',
        'registry-auth': '- {registry: quay.io, username: u, password: p}\n- {registry: index.docker.io, username: "", password: ""}',
      },
      ['quay.io'],
      ['entry 2 (index.docker.io)'],
    ],
  ])('on %s with %j: keeps %j, skips the rest with a notice', (eventName, extra, kept, notices) => {
    const r = run({ ...PUSH, 'registry-auth': FORK_AUTH, ...extra }, eventName);
    expect(r.error).toBeUndefined();
    expect(r.inputs?.registryAuth.map((a) => a.registry)).toEqual(kept);
    expect(r.notices).toHaveLength(notices.length);
    notices.forEach((n, i) => {
      expect(r.notices[i]).toContain(n);
      expect(r.notices[i]).toMatch(/^registry-auth: .*skipped, since this run writes nothing to /);
    });
  });

  it.each([
    ['the image registry', 'push', PUSH, 'entry 1 (ghcr.io) has no password, but this run pushes to ghcr.io'],
    [
      'a promote-to registry',
      'push',
      { image: 'quay.io/org/app', tags: '1.0', 'promote-to': 'docker.io/org/app:1.0' },
      'entry 2 (docker.io) has no username and password, but this run pushes to docker.io',
    ],
    ['a full-reference tag registry', 'push', { image: 'quay.io/org/app', tags: 'index.docker.io/org/app:1.0' }, 'entry 2 (docker.io)'],
    ['the image registry with push: true on a pull request', 'pull_request', { ...PUSH, push: 'true' }, 'entry 1 (ghcr.io)'],
  ])('are an input error naming the registry when it is %s', (_name, eventName, values, message) => {
    const r = run({ ...values, 'registry-auth': FORK_AUTH }, eventName);
    expect(r.error?.input).toBe('registry-auth');
    expect(r.error?.message).toContain(message);
    expect(r.error?.message).not.toContain('\n');
  });
});

describe('promote-to when nothing is pushed', () => {
  it.each([
    ['pull_request', 'auto', 'skipped'],
    ['pull_request_target', '', 'skipped'],
    ['pull_request', 'false', 'error'],
    ['push', 'false', 'error'],
    ['pull_request', 'true', 'kept'],
  ])('on %s with push %j: %s', (eventName, push, outcome) => {
    const r = run({ ...PUSH, push, 'promote-to': 'docker.io/org/app:1.0' }, eventName);
    if (outcome === 'error') {
      expect(r.error?.message).toBe('promote-to: "docker.io/org/app:1.0" is set but push is false, so nothing is pushed that could be promoted');
      return;
    }
    expect(r.error).toBeUndefined();
    expect(r.inputs?.promoteTo).toEqual(outcome === 'kept' ? ['docker.io/org/app:1.0'] : []);
    expect(r.notices).toEqual(
      outcome === 'skipped' ? [`promote-to: skipped on this ${eventName} event (push is auto, so nothing is pushed or promoted)`] : [],
    );
  });

  it('still checks the skipped references, so a typo fails the pull request too', () => {
    expect(run({ ...PUSH, 'promote-to': 'docker.io/org/app' }, 'pull_request').error?.message).toContain('is not a full image reference with a tag');
  });

  it('accepts platform-tags on a pull request with no tags (nothing is written)', () => {
    const r = run({ 'platform-tags': '{tag}-{arch}' }, 'pull_request');
    expect(r.error).toBeUndefined();
  });
});

describe('buildx-version', () => {
  it.each([
    ['', ''],
    ['v0.36.1', 'v0.36.1'],
    ['0.36.1', 'v0.36.1'],
    ['v0.37.0-rc1', 'v0.37.0-rc1'],
  ])('accepts %j as %j', (value, expected) => {
    expect(run({ ...PUSH, 'buildx-version': value }).inputs?.buildxVersion).toBe(expected);
  });

  it.each([
    [
      'latest',
      'buildx-version: "latest" cannot be installed (there is no release named latest); give a version like v0.36.1, or leave it empty to use the installed one',
    ],
    ['LATEST', 'buildx-version: "latest" cannot be installed'],
    ['v0.36', 'buildx-version: "v0.36" is not a version like v1.2.3'],
    ['master', 'buildx-version: "master" is not a version like v1.2.3'],
  ])('refuses %j in one line', (value, message) => {
    const r = run({ ...PUSH, 'buildx-version': value });
    expect(r.error?.message).toContain(message);
    expect(r.error?.message).not.toContain('\n');
  });
});

describe('trivyignores, read before anything runs', () => {
  it.each([
    ['one plain file', '.trivyignore'],
    ['several plain files (merged at scan time)', '.trivyignore, extra.trivyignore'],
    ['one YAML file', '.trivyignore.yaml'],
    ['an empty YAML file', 'empty.yaml'],
  ])('accepts %s', (_name, value) => {
    const r = run({ ...PUSH, trivyignores: value });
    expect(r.error).toBeUndefined();
    expect(r.inputs?.trivyignores).toEqual(value.split(/,\s*/));
  });

  it.each([
    [
      'a YAML file among several',
      '.trivyignore\n.trivyignore.yaml',
      '".trivyignore.yaml" is a YAML ignore file, which cannot be merged with the others',
    ],
    ['a missing file', '.trivyignore, gone.trivyignore', '"gone.trivyignore" does not exist'],
    ['an unreadable file', 'unreadable.trivyignore', '"unreadable.trivyignore" cannot be read: EACCES'],
    ['invalid YAML', 'bad.yaml', '"bad.yaml" is not valid YAML (line 2)'],
    ['an unknown YAML section', 'typo.yaml', '"typo.yaml" has an unknown section "vulnerability"'],
    ['a YAML entry without an id', 'noid.yaml', '"noid.yaml": vulnerabilities entry 1 has no id'],
    ['a YAML list instead of a mapping', 'list.yaml', '"list.yaml" is not a YAML mapping of vulnerabilities, misconfigurations, secrets, licenses'],
  ])('refuses %s', (_name, value, message) => {
    const r = run({ ...PUSH, trivyignores: value });
    expect(r.error?.input).toBe('trivyignores');
    expect(r.error?.message).toContain(message);
    expect(r.error?.message).not.toContain('\n');
  });
});

describe('github-token', () => {
  it('is read as given (the runner fills in github.token)', () => {
    expect(run({ ...PUSH, 'github-token': 'ghs_abc' }).inputs?.githubToken).toBe('ghs_abc');
  });
});

describe('withGithubToken: ghcr.io credentials from github-token', () => {
  const given: RegistryAuth = { registry: 'ghcr.io', username: 'bot', password: 'pat' };
  const hub: RegistryAuth = { registry: 'docker.io', username: 'u', password: 'p' };
  const token: RegistryAuth = { registry: 'ghcr.io', username: 'octocat', password: 'ghs_token' };
  it.each([
    ['adds them when the run pushes to ghcr.io and nothing else logs in there', [hub], [], ['ghcr.io'], 'ghs_token', [hub, token]],
    ['leaves a registry-auth entry for ghcr.io alone', [given], [], ['ghcr.io'], 'ghs_token', [given]],
    ['leaves an earlier docker login (login-action) alone', [], [given], ['ghcr.io'], 'ghs_token', []],
    ['adds nothing when the run does not push to ghcr.io', [], [], ['docker.io'], 'ghs_token', []],
    ['adds nothing when nothing is pushed', [], [], [], 'ghs_token', []],
    ['adds nothing without a token', [], [], ['ghcr.io'], '', []],
  ])('%s', (_name, auths, existing, written, tokenValue, expected) => {
    expect(withGithubToken(auths, existing, written, tokenValue, 'octocat', () => undefined)).toEqual(expected);
  });

  it('masks the token and the base64 form docker writes to its config', () => {
    const masked: string[] = [];
    withGithubToken([], [], ['ghcr.io'], 'ghs_token', undefined, (s) => masked.push(s));
    expect(masked).toEqual(['ghs_token', Buffer.from('github-actions:ghs_token').toString('base64')]);
  });
});

describe('buildAnnotations: what a single-platform build gets', () => {
  it.each([
    [['org.opencontainers.image.title=app'], ['org.opencontainers.image.title=app']],
    [
      ['manifest:a=1', 'manifest-descriptor:b=2'],
      ['manifest:a=1', 'manifest-descriptor:b=2'],
    ],
    [['index:a=1', 'index-descriptor:b=2'], []],
    [['index[linux/amd64]:a=1'], []],
    [['manifest[linux/arm64]:a=1'], ['manifest[linux/arm64]:a=1']],
    [['index,manifest:a=x=y'], ['manifest:a=x=y']],
    [['manifest,index-descriptor,manifest-descriptor:a=1'], ['manifest,manifest-descriptor:a=1']],
  ])('%j -> %j', (given, expected) => {
    expect(buildAnnotations(given)).toEqual(expected);
  });
});

describe('withResultsFile: scan-results through a file', () => {
  it('writes scan-results beside the temp dir and names the file in scan-results-file', () => {
    const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'results-'));
    const big = JSON.stringify({ 'linux/amd64': { findings: 'x'.repeat(200 * 1024) } });
    const out = withResultsFile({ digest: 'sha256:1', 'scan-results': big }, tempDir);
    expect(out['scan-results-file']).toBe(`${tempDir}.scan-results.json`);
    expect(fs.readFileSync(out['scan-results-file'] ?? '', 'utf8')).toBe(big);
    expect(out.digest).toBe('sha256:1');
  });

  it('adds nothing when scan is off (no scan-results)', () => {
    expect(withResultsFile({ digest: 'sha256:1' }, '/nonexistent/dir')).toEqual({ digest: 'sha256:1' });
  });
});

describe('action.yml', () => {
  it('has expressions only in input defaults (runners refuse them in descriptions)', () => {
    const lines = fs.readFileSync(new URL('../action.yml', import.meta.url), 'utf8').split('\n');
    expect(lines.filter((l) => l.includes('${{') && !/^\s+default: \$\{\{ [\w.]+ \}\}$/.test(l))).toEqual([]);
  });
});
