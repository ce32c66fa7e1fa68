import { describe, expect, it } from '@jest/globals';
import {
  mergeIgnoreFiles,
  planIgnoreFiles,
  trivyConvertSarifArgs,
  trivyDbDownloadArgs,
  trivyScanArgs,
  type TrivyScanArgsOptions,
} from '../src/scan/args.js';

const REF = '127.0.0.1:5000/app@sha256:1111111111111111111111111111111111111111111111111111111111111111';
const COMMON = [
  '--format',
  'json',
  '--output',
  '/w/trivy-x.json',
  '--cache-dir',
  '/c',
  '--cache-backend',
  'memory',
  '--skip-db-update',
  '--skip-java-db-update',
  '--skip-version-check',
  '--disable-telemetry',
  '--quiet',
  '--exit-code',
  '0',
];
const base: Omit<TrivyScanArgsOptions, 'target'> = {
  outputFile: '/w/trivy-x.json',
  cacheDir: '/c',
  cacheBackend: 'memory',
  severity: ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'],
  scanners: ['vuln'],
  ignoreUnfixed: false,
};
const SEV_ALL = ['--severity', 'UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL'];

describe('trivyScanArgs', () => {
  it.each(['fs', 'memory'] as const)('passes the layer cache backend %s and its cache dir', (backend) => {
    const argv = trivyScanArgs({
      ...base,
      cacheDir: '/c/layers/linux-arm64',
      cacheBackend: backend,
      target: { kind: 'remote', ref: REF, platform: 'linux/arm64' },
    });
    expect([argv[argv.indexOf('--cache-backend') + 1], argv[argv.indexOf('--cache-dir') + 1]]).toEqual([backend, '/c/layers/linux-arm64']);
  });

  it.each<[string, TrivyScanArgsOptions, string[]]>([
    [
      'a pushed arm64 image by digest',
      { ...base, target: { kind: 'remote', ref: REF, platform: 'linux/arm64' } },
      ['image', '--image-src', 'remote', '--platform', 'linux/arm64', ...COMMON, ...SEV_ALL, '--scanners', 'vuln', REF],
    ],
    [
      'a pushed arm/v7 image keeps the variant in --platform',
      { ...base, target: { kind: 'remote', ref: REF, platform: 'linux/arm/v7' } },
      ['image', '--image-src', 'remote', '--platform', 'linux/arm/v7', ...COMMON, ...SEV_ALL, '--scanners', 'vuln', REF],
    ],
    [
      'a local OCI layout (no --platform, no positional image)',
      { ...base, target: { kind: 'oci-layout', dir: '/w/oci/linux-arm64' } },
      ['image', '--input', '/w/oci/linux-arm64', ...COMMON, ...SEV_ALL, '--scanners', 'vuln'],
    ],
    [
      'ignore-unfixed, several scanners and chosen severities',
      {
        ...base,
        severity: ['HIGH', 'CRITICAL'],
        scanners: ['vuln', 'secret'],
        ignoreUnfixed: true,
        target: { kind: 'remote', ref: REF, platform: 'linux/amd64' },
      },
      [
        'image',
        '--image-src',
        'remote',
        '--platform',
        'linux/amd64',
        ...COMMON,
        '--severity',
        'HIGH,CRITICAL',
        '--scanners',
        'vuln,secret',
        '--ignore-unfixed',
        REF,
      ],
    ],
    [
      'an ignore file',
      { ...base, ignoreFile: '/w/trivyignore-linux-amd64', target: { kind: 'oci-layout', dir: '/w/oci' } },
      ['image', '--input', '/w/oci', ...COMMON, ...SEV_ALL, '--scanners', 'vuln', '--ignorefile', '/w/trivyignore-linux-amd64'],
    ],
    [
      'empty severity and scanners lists (trivy defaults)',
      { ...base, severity: [], scanners: [], target: { kind: 'oci-layout', dir: '/w/oci' } },
      ['image', '--input', '/w/oci', ...COMMON],
    ],
  ])('%s', (_name, opts, argv) => {
    expect(trivyScanArgs(opts)).toEqual(argv);
  });

  it('always asks for a JSON report and exit code 0, so only the report decides the gate', () => {
    const argv = trivyScanArgs({ ...base, ignoreUnfixed: true, target: { kind: 'remote', ref: REF, platform: 'linux/arm64' } });
    expect(argv.join(' ')).toContain('--format json --output /w/trivy-x.json');
    expect(argv.join(' ')).toContain('--exit-code 0');
    expect(argv.filter((a) => a === '--format')).toHaveLength(1);
  });
});

describe('trivyDbDownloadArgs', () => {
  it.each<[string, { cacheDir: string; dbRepository?: string }, string[]]>([
    [
      'from a mirror',
      { cacheDir: '/c', dbRepository: '127.0.0.1:5000/trivy-db:2' },
      [
        'image',
        '--download-db-only',
        '--cache-dir',
        '/c',
        '--db-repository',
        '127.0.0.1:5000/trivy-db:2',
        '--skip-version-check',
        '--disable-telemetry',
        '--no-progress',
      ],
    ],
    [
      'from trivy default repositories',
      { cacheDir: '/c', dbRepository: '' },
      ['image', '--download-db-only', '--cache-dir', '/c', '--skip-version-check', '--disable-telemetry', '--no-progress'],
    ],
  ])('%s', (_name, opts, argv) => {
    expect(trivyDbDownloadArgs(opts)).toEqual(argv);
  });
});

describe('trivyConvertSarifArgs', () => {
  it('converts the report the gate read', () => {
    expect(trivyConvertSarifArgs('/w/trivy-linux-arm64.json', '/s/trivy-linux-arm64.sarif')).toEqual([
      'convert',
      '--format',
      'sarif',
      '--output',
      '/s/trivy-linux-arm64.sarif',
      '/w/trivy-linux-arm64.json',
    ]);
  });
});

describe('mergeIgnoreFiles', () => {
  it.each<[string, string[], string]>([
    // Checked against trivy v0.74.0: "CVE-1" without a newline followed by "# comment\n" became
    // "CVE-1# comment", whose first field is not the id, so CVE-1 was no longer ignored.
    ['never glues a file without a final newline to the next', ['CVE-1', '# comment\nCVE-2\n'], 'CVE-1\n# comment\nCVE-2\n'],
    ['keeps files that end in a newline as they are', ['CVE-1\n', 'CVE-2 exp:2099-01-01\n'], 'CVE-1\nCVE-2 exp:2099-01-01\n'],
    ['keeps CRLF files usable', ['CVE-1\r\n', 'CVE-2'], 'CVE-1\r\nCVE-2\n'],
    ['skips empty files', ['', 'CVE-2'], 'CVE-2\n'],
    ['is empty for no files', [], ''],
  ])('%s', (_name, contents, merged) => {
    expect(mergeIgnoreFiles(contents)).toBe(merged);
  });
});

describe('planIgnoreFiles', () => {
  it.each<[string, string[], ReturnType<typeof planIgnoreFiles>]>([
    ['no files', [], { kind: 'none' }],
    ['blank entries only', ['', ' '], { kind: 'none' }],
    ['one plain file as it is', ['.trivyignore'], { kind: 'single', path: '.trivyignore' }],
    ['one YAML file as it is', ['.trivyignore.yaml'], { kind: 'single', path: '.trivyignore.yaml' }],
    ['several plain files merged', ['a/.trivyignore', 'b/.trivyignore'], { kind: 'merge', paths: ['a/.trivyignore', 'b/.trivyignore'] }],
  ])('%s', (_name, paths, plan) => {
    expect(planIgnoreFiles(paths)).toEqual(plan);
  });

  it('refuses to merge a YAML ignore file with others, naming it', () => {
    expect(() => planIgnoreFiles(['.trivyignore', 'policy/.trivyignore.yml'])).toThrow(
      /trivyignores: policy\/\.trivyignore\.yml is a YAML ignore file/,
    );
  });
});
