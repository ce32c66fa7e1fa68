import { describe, expect, it } from '@jest/globals';
import { CommandError, type Exec } from '../src/exec.js';
import type { Logger } from '../src/log.js';
import { binfmtImage, pullFirst, withBuildkitImage, type BootstrapSources } from '../src/pipeline/bootstrap.js';
import { pullRetryable } from '../src/util/tool-retry.js';

/** A docker whose `pull IMAGE` fails with the given stderr for the first `times` pulls of IMAGE. */
function fakeDocker(fails: Record<string, { stderr: string; times?: number }>): { exec: Exec; pulls: string[] } {
  const pulls: string[] = [];
  const count = new Map<string, number>();
  const exec: Exec = async (cmd, args) => {
    const image = args[1] as string;
    pulls.push(image);
    const n = (count.get(image) ?? 0) + 1;
    count.set(image, n);
    const f = fails[image];
    if (f && (f.times === undefined || n <= f.times)) throw new CommandError(cmd, args, 1, f.stderr);
    return { exitCode: 0, stdout: '', stderr: '' };
  };
  return { exec, pulls };
}

function logger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => void lines.push(m), warning: (m) => void lines.push(`warning: ${m}`), debug: () => undefined, group: (_n, f) => f() };
}

const RESET = 'Error response from daemon: Get "http://127.0.0.1:5100/v2/": read tcp 127.0.0.1:1->127.0.0.1:5100: read: connection reset by peer\n';
const NOT_FOUND = 'Error response from daemon: manifest for 127.0.0.1:5000/moby/buildkit:nope not found: manifest unknown: manifest unknown\n';
const RATE = 'Error response from daemon: toomanyrequests: You have reached your unauthenticated pull rate limit.\n';

describe('pullRetryable', () => {
  it('pulls again after a reset or a 5xx, never after a rate limit or an unknown image', () => {
    expect(pullRetryable(RESET)).toBe(true);
    expect(pullRetryable('Error response from daemon: received unexpected HTTP status: 503 Service Unavailable\n')).toBe(true);
    expect(pullRetryable(RATE)).toBe(false);
    expect(pullRetryable(NOT_FOUND)).toBe(false);
  });
});

describe('pullFirst', () => {
  it('retries a transient failure on the same image before falling back', async () => {
    const { exec, pulls } = fakeDocker({ a: { stderr: RESET, times: 1 } });
    const log = logger();
    expect(await pullFirst(exec, 'the buildkit image', ['a', 'b'], { log, toolBackoffMs: 1 })).toBe('a');
    expect(pulls).toEqual(['a', 'a']);
    expect(log.lines.at(-1)).toBe('the buildkit image served by a');
  });

  it('falls back in order past a rate limit and an unknown image, and says which one served', async () => {
    const { exec, pulls } = fakeDocker({ a: { stderr: RATE }, b: { stderr: NOT_FOUND } });
    const log = logger();
    expect(await pullFirst(exec, 'the binfmt image', ['a', 'b', 'c'], { log, toolBackoffMs: 1 })).toBe('c');
    expect(pulls).toEqual(['a', 'b', 'c']);
    expect(log.lines).toContain(
      'warning: a did not serve the binfmt image (Error response from daemon: toomanyrequests: You have reached your unauthenticated pull rate limit.); trying b',
    );
    expect(log.lines.at(-1)).toBe('the binfmt image served by c (2 of 3 before it failed)');
  });

  it('fails naming every image when none serves', async () => {
    const { exec } = fakeDocker({ a: { stderr: RESET }, b: { stderr: NOT_FOUND } });
    await expect(pullFirst(exec, 'the buildkit image', ['a', 'b'], { log: logger(), toolBackoffMs: 1 })).rejects.toThrow(
      /could not get the buildkit image from any of 2 sources, tried in order:\n1\. a: [\s\S]*connection reset by peer\n2\. b: [\s\S]*manifest unknown/,
    );
  });
});

describe('withBuildkitImage', () => {
  const base = { builder: '', driver: 'docker-container', driverOpts: ['network=host'], buildkitImages: ['a', 'b'] };

  it('adds image=<served> to driver-opts and records it', async () => {
    const { exec } = fakeDocker({ a: { stderr: RATE } });
    const sources: BootstrapSources = {};
    const out = await withBuildkitImage(exec, base, { log: logger() }, sources);
    expect(out.driverOpts).toEqual(['network=host', 'image=b']);
    expect(sources).toEqual({ buildkit: 'b' });
  });

  it.each([
    ['no buildkit-image', { buildkitImages: [] }],
    ['an existing builder', { builder: 'mine' }],
    ['the remote driver', { driver: 'remote' }],
  ])('pulls nothing for %s', async (_name, over) => {
    const { exec, pulls } = fakeDocker({});
    const inputs = { ...base, ...over };
    expect(await withBuildkitImage(exec, inputs, { log: logger() }, {})).toBe(inputs);
    expect(pulls).toEqual([]);
  });
});

describe('binfmtImage', () => {
  it('pulls only when asked (a registration happens), then records the one that served', async () => {
    const { exec, pulls } = fakeDocker({ a: { stderr: NOT_FOUND } });
    const sources: BootstrapSources = {};
    const image = binfmtImage(exec, { qemuImages: ['a', 'b'] }, { log: logger() }, sources);
    expect(pulls).toEqual([]);
    expect(await image()).toBe('b');
    expect(sources).toEqual({ binfmt: 'b' });
  });
});
