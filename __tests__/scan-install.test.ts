import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { execCommand } from '../src/exec.js';
import {
  archiveName,
  checksumsName,
  defaultTrivyInstallDeps,
  ensureTrivy,
  expectedChecksum,
  normaliseTrivyVersion,
  parseTrivyVersion,
  releaseUrl,
  sha256File,
  verifyChecksum,
} from '../src/scan/install.js';
import { fileVersionMemo } from '../src/util/version-memo.js';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

describe('parseTrivyVersion', () => {
  it.each<[string, string, string | undefined]>([
    ['the binary alone', 'Version: 0.74.0\n', '0.74.0'],
    [
      'with DB sections, whose indented Version lines are ignored',
      'Version: 0.74.0\nVulnerability DB:\n  Version: 2\n  UpdatedAt: 2026-01-01 00:00:00 +0000 UTC\nJava DB:\n  Version: 1\n',
      '0.74.0',
    ],
    ['a v prefix', 'Version: v0.74.0\n', '0.74.0'],
    ['a dev build', 'Version: dev\n', 'dev'],
    ['only DB lines', 'Vulnerability DB:\n  Version: 2\n', undefined],
    ['unrelated output', 'trivy: command not found\n', undefined],
  ])('%s', (_name, text, version) => {
    expect(parseTrivyVersion(text)).toBe(version);
  });
});

describe('release names', () => {
  it.each([
    ['0.74.0', 'x64', 'linux', 'trivy_0.74.0_Linux-64bit.tar.gz'],
    ['v0.74.0', 'arm64', 'linux', 'trivy_0.74.0_Linux-ARM64.tar.gz'],
    ['0.74.0', 'arm', 'linux', 'trivy_0.74.0_Linux-ARM.tar.gz'],
    ['0.74.0', 'arm64', 'darwin', 'trivy_0.74.0_macOS-ARM64.tar.gz'],
  ])('archiveName(%s, %s, %s) is %s', (version, arch, platform, name) => {
    expect(archiveName(version, arch, platform)).toBe(name);
  });

  it('refuses a host without a release archive', () => {
    expect(() => archiveName('0.74.0', 'mips', 'linux')).toThrow(/no trivy release archive for linux\/mips/);
    expect(() => archiveName('0.74.0', 'x64', 'win32')).toThrow(/win32\/x64/);
  });

  it('names the checksums file and the URLs under v<version>/', () => {
    expect(checksumsName('v0.74.0')).toBe('trivy_0.74.0_checksums.txt');
    expect(releaseUrl('http://127.0.0.1:8080/releases/', '0.74.0', 'x.tar.gz')).toBe('http://127.0.0.1:8080/releases/v0.74.0/x.tar.gz');
  });

  it.each(['latest', '0.74', '', 'v0.74.0.1'])('refuses %j as a version', (v) => {
    expect(() => normaliseTrivyVersion(v)).toThrow(/trivy-version must be an exact version/);
  });
});

describe('expectedChecksum', () => {
  const a = 'a'.repeat(64);
  const b = 'B'.repeat(64);
  it.each<[string, string, string | undefined]>([
    ['two spaces', `${a}  trivy_0.74.0_Linux-64bit.tar.gz\n`, a],
    ['binary-mode star, upper-case hex, CRLF', `${b} *trivy_0.74.0_Linux-64bit.tar.gz\r\n`, b.toLowerCase()],
    ['among other files', `${b}  trivy_0.74.0_Linux-ARM64.tar.gz\n${a}  trivy_0.74.0_Linux-64bit.tar.gz\n`, a],
    ['not listed', `${a}  trivy_0.74.0_Linux-ARM64.tar.gz\n`, undefined],
    ['only a name that ends the same', `${a}  xtrivy_0.74.0_Linux-64bit.tar.gz\n`, undefined],
    ['a short hash', `abc  trivy_0.74.0_Linux-64bit.tar.gz\n`, undefined],
  ])('%s', (_name, text, hash) => {
    expect(expectedChecksum(text, 'trivy_0.74.0_Linux-64bit.tar.gz')).toBe(hash);
  });

  it('refuses a file listed twice with different hashes', () => {
    expect(() => expectedChecksum(`${a}  f.tar.gz\n${'c'.repeat(64)}  f.tar.gz\n`, 'f.tar.gz')).toThrow(/more than once/);
  });
});

describe('verifyChecksum on a real file', () => {
  let dir: string;
  let file: string;
  const content = 'pretend archive\n';
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'scan-install-'));
    file = path.join(dir, 'download-1234');
    await fs.writeFile(file, content);
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('hashes the file', async () => {
    expect(await sha256File(file)).toBe(sha256(content));
  });

  it('accepts the file whose hash the checksums file lists', async () => {
    await expect(
      verifyChecksum(file, 'trivy_0.74.0_Linux-64bit.tar.gz', `${sha256(content)}  trivy_0.74.0_Linux-64bit.tar.gz\n`, 'trivy_0.74.0_checksums.txt'),
    ).resolves.toBeUndefined();
  });

  it('refuses a mismatch, naming the file and both hashes', async () => {
    const listed = sha256('something else');
    const err = await verifyChecksum(
      file,
      'trivy_0.74.0_Linux-64bit.tar.gz',
      `${listed}  trivy_0.74.0_Linux-64bit.tar.gz\n`,
      'trivy_0.74.0_checksums.txt',
    ).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `refusing to install trivy: SHA256 mismatch for trivy_0.74.0_Linux-64bit.tar.gz: trivy_0.74.0_checksums.txt lists ${listed}, the download is ${sha256(content)}`,
    );
  });

  it('refuses a file missing from the checksums file', async () => {
    await expect(
      verifyChecksum(file, 'trivy_0.74.0_Linux-64bit.tar.gz', `${sha256(content)}  other.tar.gz\n`, 'trivy_0.74.0_checksums.txt'),
    ).rejects.toThrow('refusing to install trivy: trivy_0.74.0_Linux-64bit.tar.gz is not listed in trivy_0.74.0_checksums.txt');
  });
});

// ensureTrivy against a local HTTP server, the real tool cache and real
// processes: the release archive holds a stand-in `trivy` script.
describe('ensureTrivy', () => {
  const ARCHIVE = archiveName('0.74.0', process.arch, process.platform);
  let root: string;
  let server: http.Server;
  let baseUrl: string;
  let files: Record<string, Buffer>;
  let requests: string[];
  let savedEnv: Record<string, string | undefined>;
  const logs: string[] = [];

  async function makeArchive(version: string): Promise<Buffer> {
    const src = await fs.mkdtemp(path.join(root, 'src-'));
    await fs.writeFile(path.join(src, 'trivy'), `#!/bin/sh\necho "Version: ${version}"\n`, { mode: 0o755 });
    await fs.writeFile(path.join(src, 'LICENSE'), 'Apache-2.0\n');
    const out = path.join(root, `archive-${version}.tar.gz`);
    await execCommand('tar', ['-czf', out, '-C', src, 'trivy', 'LICENSE'], { silent: true });
    return fs.readFile(out);
  }

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'scan-ensure-'));
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      const body = files[req.url ?? ''];
      if (body === undefined) {
        res.writeHead(404).end('not found');
      } else {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/releases`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fs.rm(root, { recursive: true, force: true });
  });

  beforeEach(async () => {
    requests = [];
    logs.length = 0;
    savedEnv = { RUNNER_TOOL_CACHE: process.env.RUNNER_TOOL_CACHE, RUNNER_TEMP: process.env.RUNNER_TEMP };
    process.env.RUNNER_TOOL_CACHE = await fs.mkdtemp(path.join(root, 'toolcache-'));
    process.env.RUNNER_TEMP = await fs.mkdtemp(path.join(root, 'temp-'));
    const archive = await makeArchive('0.74.0');
    files = {
      [`/releases/v0.74.0/${ARCHIVE}`]: archive,
      '/releases/v0.74.0/trivy_0.74.0_checksums.txt': Buffer.from(
        `${sha256('other')}  trivy_0.74.0_Linux-ARM.tar.gz\n${sha256(archive)}  ${ARCHIVE}\n`,
      ),
    };
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const deps = (onPath = '') => ({ ...defaultTrivyInstallDeps(execCommand, (m: string) => logs.push(m)), which: async () => onPath });

  it('downloads, verifies, extracts and caches the release, then finds it in the tool cache', async () => {
    const binary = await ensureTrivy(deps(), 'v0.74.0', baseUrl);
    expect(binary).toBe(path.join(process.env.RUNNER_TOOL_CACHE as string, 'trivy', '0.74.0', process.arch, 'trivy'));
    expect((await execCommand(binary, ['--version'], { silent: true })).stdout).toBe('Version: 0.74.0\n');
    expect(requests).toEqual([`/releases/v0.74.0/${ARCHIVE}`, '/releases/v0.74.0/trivy_0.74.0_checksums.txt']);

    requests = [];
    expect(await ensureTrivy(deps(), '0.74.0', baseUrl)).toBe(binary);
    expect(requests).toEqual([]);
  });

  it('refuses an archive whose hash does not match and caches nothing', async () => {
    files[`/releases/v0.74.0/${ARCHIVE}`] = await makeArchive('0.74.0-tampered');
    await expect(ensureTrivy(deps(), '0.74.0', baseUrl)).rejects.toThrow(
      new RegExp(
        `SHA256 mismatch for ${ARCHIVE.replace(/\./g, '\\.')}: trivy_0\\.74\\.0_checksums\\.txt lists [0-9a-f]{64}, the download is [0-9a-f]{64}`,
      ),
    );
    await expect(fs.readdir(path.join(process.env.RUNNER_TOOL_CACHE as string))).resolves.toEqual([]);
  });

  it('refuses an archive the checksums file does not list', async () => {
    files['/releases/v0.74.0/trivy_0.74.0_checksums.txt'] = Buffer.from(`${sha256('x')}  trivy_0.74.0_Linux-ARM.tar.gz\n`);
    await expect(ensureTrivy(deps(), '0.74.0', baseUrl)).rejects.toThrow(`${ARCHIVE} is not listed in trivy_0.74.0_checksums.txt`);
  });

  it('fails when the mirror has no such release', async () => {
    await expect(ensureTrivy(deps(), '0.73.0', baseUrl)).rejects.toThrow(
      new RegExp(`could not download ${baseUrl}/v0\\.73\\.0/trivy_0\\.73\\.0_.*: .*404`),
    );
  });

  it('uses the trivy on PATH when it reports exactly the wanted version', async () => {
    const dir = await fs.mkdtemp(path.join(root, 'path-'));
    const onPath = path.join(dir, 'trivy');
    await fs.writeFile(onPath, '#!/bin/sh\necho "Version: 0.74.0"\necho "Vulnerability DB:"\necho "  Version: 2"\n', { mode: 0o755 });
    expect(await ensureTrivy(deps(onPath), '0.74.0', baseUrl)).toBe(onPath);
    expect(requests).toEqual([]);
  });

  it('installs the wanted version when the trivy on PATH is another one', async () => {
    const dir = await fs.mkdtemp(path.join(root, 'path-'));
    const onPath = path.join(dir, 'trivy');
    await fs.writeFile(onPath, '#!/bin/sh\necho "Version: 0.73.1"\n', { mode: 0o755 });
    const binary = await ensureTrivy(deps(onPath), '0.74.0', baseUrl);
    expect(binary).not.toBe(onPath);
    expect(logs).toContain(`trivy on PATH (${onPath}) is 0.73.1, not 0.74.0`);
    expect((await execCommand(binary, ['--version'], { silent: true })).stdout).toBe('Version: 0.74.0\n');
  });

  it('asks a binary its version once while it stays the same file; a binary replaced or touched is asked again', async () => {
    const dir = await fs.mkdtemp(path.join(root, 'memo-'));
    const onPath = path.join(dir, 'trivy');
    const asked = path.join(dir, 'asked');
    const script = (v: string): string => `#!/bin/sh\necho x >> ${asked}\necho "Version: ${v}"\n`;
    await fs.writeFile(onPath, script('0.74.0'), { mode: 0o755 });
    const memo = fileVersionMemo(path.join(dir, 'memo', 'tool-versions.json'));
    const withMemo = { ...deps(onPath), versionMemo: memo };
    const times = async (): Promise<number> => (await fs.readFile(asked, 'utf8')).split('\n').filter(Boolean).length;
    for (let i = 0; i < 3; i++) expect(await ensureTrivy(withMemo, '0.74.0', baseUrl)).toBe(onPath);
    expect(await times()).toBe(1);
    // Another version put in its place: asked again, and not taken for 0.74.0.
    await fs.rm(onPath);
    await fs.writeFile(onPath, script('0.73.1'), { mode: 0o755 });
    expect(await ensureTrivy(withMemo, '0.74.0', baseUrl)).not.toBe(onPath);
    expect(logs).toContain(`trivy on PATH (${onPath}) is 0.73.1, not 0.74.0`);
    expect(await times()).toBe(2);
    // The same file touched: asked again.
    await fs.utimes(onPath, new Date(), new Date(Date.now() + 5000));
    await ensureTrivy(withMemo, '0.74.0', baseUrl);
    expect(await times()).toBe(3);
    // Without a memo, every call asks.
    await ensureTrivy(deps(onPath), '0.74.0', baseUrl);
    expect(await times()).toBe(4);
  });

  it('asks the binary when the memo file is not JSON, and mends it', async () => {
    const dir = await fs.mkdtemp(path.join(root, 'memo-'));
    const onPath = path.join(dir, 'trivy');
    await fs.writeFile(onPath, '#!/bin/sh\necho "Version: 0.74.0"\n', { mode: 0o755 });
    const file = path.join(dir, 'tool-versions.json');
    await fs.writeFile(file, '{not json');
    expect(await ensureTrivy({ ...deps(onPath), versionMemo: fileVersionMemo(file) }, '0.74.0', baseUrl)).toBe(onPath);
    expect(Object.values(JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, string>)).toEqual(['0.74.0']);
  });

  it('refuses a downloaded binary that reports another version and keeps it out of the tool cache', async () => {
    files[`/releases/v0.74.0/${ARCHIVE}`] = await makeArchive('0.70.0');
    const archive = files[`/releases/v0.74.0/${ARCHIVE}`] as Buffer;
    files['/releases/v0.74.0/trivy_0.74.0_checksums.txt'] = Buffer.from(`${sha256(archive)}  ${ARCHIVE}\n`);
    await expect(ensureTrivy(deps(), '0.74.0', baseUrl)).rejects.toThrow(/reports trivy version 0\.70\.0, expected 0\.74\.0/);
    await expect(fs.readdir(path.join(process.env.RUNNER_TOOL_CACHE as string))).resolves.toEqual([]);
  });
});
