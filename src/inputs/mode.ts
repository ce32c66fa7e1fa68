// The distribute inputs: `mode`, the leg's `platform`, `runners` and `leg-key`. Pure.
//
// `runners` is one `platform=label` per line; the label may be a flow list for
// a self-hosted label set (`linux/arm64=[self-hosted, linux, arm64]`), and `*`
// stands for every platform no other line names.
import { parse as parseYaml } from 'yaml';
import { parsePlatform } from '../platform.js';
import type { Inputs, Mode, Platform, RunnerAssignment } from '../model.js';
import { fail, tryOr } from './error.js';
import { q, splitPair, type InputReader } from './values.js';

export type ModeInputs = Pick<Inputs, 'mode' | 'runners' | 'platform' | 'legKey'>;

export const MODES: readonly Mode[] = ['all', 'plan', 'platform', 'merge'];
/** GitHub's limit on the jobs one matrix makes. */
export const MAX_LEGS = 256;
/** Runners that run these platforms natively; anything else runs on ubuntu-24.04 under QEMU. */
export const DEFAULT_RUNNERS: Readonly<Record<string, string>> = {
  'linux/amd64': 'ubuntu-24.04',
  'linux/386': 'ubuntu-24.04',
  'linux/arm64': 'ubuntu-24.04-arm',
  'linux/arm/v7': 'ubuntu-24.04-arm',
  'linux/arm/v6': 'ubuntu-24.04-arm',
};
export const FALLBACK_RUNNER = 'ubuntu-24.04';

const LABEL = /^[A-Za-z0-9._:-]+$/;
const KEY = /^[A-Za-z0-9._-]*$/;

export function parseModeInputs(r: InputReader, platforms: readonly Platform[]): ModeInputs {
  const raw = r.line('mode');
  const mode = (raw === '' ? 'all' : raw.toLowerCase()) as Mode;
  if (!MODES.includes(mode)) fail('mode', `${q(raw)} is not one of ${MODES.join(', ')}`);
  if (mode !== 'all' && platforms.length > MAX_LEGS) {
    fail('platforms', `${platforms.length} platforms; a distributed run makes one job per platform and a job matrix holds at most ${MAX_LEGS}`);
  }
  const runners = parseRunners(r.list('runners', { ignoreComma: true }), platforms);

  const platformRaw = r.line('platform');
  let platform: Platform | undefined;
  if (mode === 'platform') {
    if (platformRaw === '') fail('platform', 'is required when mode is platform (the one platform this job builds)');
    const id = tryOr('platform', () => parsePlatform(platformRaw).id);
    platform = platforms.find((p) => p.id === id);
    if (!platform) fail('platform', `${q(platformRaw)} is not one of platforms (${platforms.map((p) => p.id).join(', ')})`);
  } else if (platformRaw !== '') {
    fail('platform', `is only used with mode: platform (mode is ${mode})`);
  }

  const legKey = r.line('leg-key');
  if (!KEY.test(legKey)) fail('leg-key', `${q(legKey)} may hold only letters, digits, '.', '_' and '-'`);
  return { mode, runners, ...(platform ? { platform } : {}), legKey };
}

/** `runners` lines over the defaults, one assignment per platform in order. */
export function parseRunners(lines: readonly string[], platforms: readonly Platform[]): RunnerAssignment[] {
  const given = new Map<string, string | string[]>();
  for (const line of lines) {
    const [key, value] = splitPair(line).map((part) => part.trim()) as [string, string];
    if (key === '' || value === '') fail('runners', `${q(line)} is not platform=runner-label`);
    const id = key === '*' ? '*' : tryOr('runners', () => parsePlatform(key).id);
    if (id !== '*' && !platforms.some((p) => p.id === id)) {
      fail('runners', `${q(key)} is not one of platforms (${platforms.map((p) => p.id).join(', ')})`);
    }
    if (given.has(id)) fail('runners', `${q(key)} is given twice`);
    given.set(id, parseLabels(value));
  }
  return platforms.map((platform) => ({
    platform,
    runner: given.get(platform.id) ?? given.get('*') ?? DEFAULT_RUNNERS[platform.id] ?? FALLBACK_RUNNER,
  }));
}

/** One label, or a flow list of labels (`[self-hosted, linux, arm64]`, JSON arrays too). */
export function parseLabels(value: string): string | string[] {
  if (!value.startsWith('[')) {
    if (!LABEL.test(value)) fail('runners', `${q(value)} is not a runner label (letters, digits, '.', '_', ':', '-'), nor a [list] of them`);
    return value;
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(value);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((l) => typeof l === 'string' && LABEL.test(l))) {
    return fail('runners', `${q(value)} is not a list of runner labels like [self-hosted, linux, arm64]`);
  }
  return parsed as string[];
}
