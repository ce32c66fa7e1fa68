import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { sarifCategory, setSarifCategory } from '../src/scan/sarif.js';

// Produced by the real `trivy convert --format sarif` (v0.74.0) from handmade-image-arm64.json.
const SARIF = readFileSync(path.join(process.cwd(), '__tests__', 'fixtures', 'trivy', 'handmade-image-arm64.sarif'), 'utf8');

interface Run {
  automationDetails?: Record<string, unknown>;
  results: { ruleId: string }[];
}

describe('sarifCategory', () => {
  it.each([
    ['linux/arm64', 'trivy/linux-arm64'],
    ['linux/amd64', 'trivy/linux-amd64'],
    ['linux/arm/v7', 'trivy/linux-arm-v7'],
    ['linux/arm64/v8.2', 'trivy/linux-arm64-v8.2'],
  ])('%s -> %s', (platform, category) => {
    expect(sarifCategory(platform)).toBe(category);
  });

  it('refuses an empty platform', () => {
    expect(() => sarifCategory(' ')).toThrow(/empty platform/);
  });
});

describe('setSarifCategory', () => {
  it('sets every run automationDetails.id to the category and a slash, keeping the results', () => {
    const out = JSON.parse(setSarifCategory(SARIF, 'trivy/linux-arm64')) as { version: string; runs: Run[] };
    expect(out.version).toBe('2.1.0');
    expect(out.runs.map((r) => r.automationDetails)).toEqual([{ id: 'trivy/linux-arm64/' }]);
    expect(out.runs[0]?.results.map((r) => r.ruleId)).toEqual(['CVE-2099-10001', 'CVE-2099-10002', 'CVE-2099-10003']);
  });

  it('does not double a trailing slash and keeps other automationDetails fields', () => {
    const sarif = JSON.stringify({ version: '2.1.0', runs: [{ automationDetails: { guid: 'g', id: 'old/' } }, {}] });
    const out = JSON.parse(setSarifCategory(sarif, 'trivy/linux-arm-v7/')) as { runs: Run[] };
    expect(out.runs.map((r) => r.automationDetails)).toEqual([{ guid: 'g', id: 'trivy/linux-arm-v7/' }, { id: 'trivy/linux-arm-v7/' }]);
  });

  it.each([
    ['not JSON', 'nope', /not JSON/],
    ['a SARIF 2.0 log', JSON.stringify({ version: '2.0.0', runs: [] }), /version is "2.0.0"/],
    ['a log without runs', JSON.stringify({ version: '2.1.0' }), /`runs` is not an array/],
    ['a run that is not an object', JSON.stringify({ version: '2.1.0', runs: [1] }), /runs\[0\] is not an object/],
    ['a top-level array', '[]', /top level is not an object/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => setSarifCategory(text, 'trivy/linux-amd64')).toThrow(message);
  });
});
