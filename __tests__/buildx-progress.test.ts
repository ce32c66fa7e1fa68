// The rawjson parser fed real `docker buildx build --progress=rawjson` stderr
// captured on the test bed (buildx v0.36.1, buildkitd v0.32.2): the busybox
// loop image for three platforms (arm64 and arm/v7 under QEMU), the same amd64
// build again fully cached, and a RUN step that fails.
import { describe, expect, it } from '@jest/globals';
import { isRunStep, parseProgress, ProgressReader, readableLines, stepKey, stepLabel } from '../src/buildx/progress.js';
import { isSolveStatus } from '../src/types/progress.js';
import { fixture } from './support/fake-exec.js';

const progress = (name: string): string => fixture(`progress-${name}.jsonl`);
const RUN = /^\[2\/2\] RUN \["\/bin\/busybox", "sh", "-c", "echo fixture-23844 > \/nonce; i=0; while/;

describe('parseProgress', () => {
  it('gives every vertex of a real build with its times, in the order they started', () => {
    const steps = parseProgress(progress('emulated-linux-arm64'));
    expect(steps.map((s) => stepLabel(s.name).split(' ').slice(0, 2).join(' '))).toEqual([
      'load build',
      'load .dockerignore',
      'load build',
      'COPY busybox/arm64/busybox',
      'RUN ["/bin/busybox",',
    ]);
    const run = steps[4]!;
    expect(run.name).toMatch(RUN);
    expect(run.cached).toBe(false);
    expect(run.seconds).toBeCloseTo(((run.completed ?? 0) - (run.started ?? 0)) / 1000, 6);
    // The loop under QEMU: 11.4 s on the test bed.
    expect(run.seconds).toBeGreaterThan(5);
    expect(steps[3]).toMatchObject({ name: '[1/2] COPY busybox/arm64/busybox /bin/busybox', cached: true, seconds: 0 });
  });

  it('measures a restarted vertex from its first start to its last completion', () => {
    // "load build definition" is sent completed, then started again, then completed.
    const def = parseProgress(progress('emulated-linux-amd64'))[0]!;
    expect(def.name).toBe('[internal] load build definition from Dockerfile');
    const events = progress('emulated-linux-amd64')
      .split('\n')
      .filter((l) => l.includes('load build definition'));
    const completions = events.flatMap((l) => [...l.matchAll(/"completed":"([^"]+)"/g)].map((m) => Date.parse(m[1]!)));
    expect(def.completed).toBe(Math.max(...completions));
  });

  it('times the export of a pushed build from its first start to the push being done', () => {
    // `exporting to image` is completed after the manifests, started again for the push, completed again.
    const steps = parseProgress(progress('push-linux-amd64'));
    const exp = steps.find((s) => s.name === 'exporting to image');
    expect(exp?.cached).toBe(false);
    expect(exp?.started).toBe(Date.parse('2026-12-02T00:41:39.502Z'));
    expect(exp?.completed).toBe(Date.parse('2026-12-02T00:41:39.736Z'));
    const lines = readableLines(progress('push-linux-amd64'));
    const n = lines.find((l) => l.endsWith(' exporting to image'))?.split(' ')[0];
    expect(lines).toContain(`${n} pushing layers done`);
  });

  it('marks every step of a fully cached build as cached, taking no time', () => {
    const steps = parseProgress(progress('cached-linux-amd64'));
    const instructions = steps.filter((s) => !s.name.startsWith('[internal]'));
    expect(instructions.map((s) => [s.cached, s.seconds])).toEqual([
      [true, 0],
      [true, 0],
    ]);
  });

  it('keeps the failed step with its error', () => {
    const failed = parseProgress(progress('failed-linux-arm64')).filter((s) => s.error);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.name).toMatch(/^\[2\/2\] RUN .*exit 3/);
    expect(failed[0]?.error).toBe(
      'process "/bin/busybox sh -c echo building $NONCE; echo failing on purpose >&2; exit 3" did not complete successfully: exit code: 3',
    );
  });

  it('the native amd64 run of the loop is several times faster than arm64 under QEMU', () => {
    const run = (f: string): number => parseProgress(progress(f)).find((s) => isRunStep(s.name))?.seconds ?? 0;
    expect(run('emulated-linux-arm64') / run('emulated-linux-amd64')).toBeGreaterThan(4);
    expect(run('emulated-linux-arm-v7') / run('emulated-linux-amd64')).toBeGreaterThan(4);
  });
});

describe('readable lines', () => {
  it('reads like --progress=plain: numbered steps, their output, DONE/CACHED', () => {
    const lines = readableLines(progress('emulated-linux-arm64'));
    expect(lines).toContain('#4 [1/2] COPY busybox/arm64/busybox /bin/busybox');
    expect(lines).toContain('#4 CACHED');
    expect(lines).toContain('#3 aarch64');
    expect(lines.filter((l) => /^#3 DONE \d+\.\ds$/.test(l))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('{'))).toBe(false);
    // A vertex sent completed and restarted in one event is done once.
    expect(lines.filter((l) => l.startsWith('#1 DONE'))).toHaveLength(1);
  });

  it("shows a failed step's output and error, and passes buildx's own lines through", () => {
    const lines = readableLines(progress('failed-linux-arm64'));
    expect(lines).toContain('#3 failing on purpose');
    expect(lines).toContain(
      '#3 ERROR: process "/bin/busybox sh -c echo building $NONCE; echo failing on purpose >&2; exit 3" did not complete successfully: exit code: 3',
    );
    expect(lines.at(-1)).toMatch(/^ERROR: failed to build: failed to solve: process .* exit code: 3$/);
  });

  it('passes on a line that is not JSON, or JSON that is no progress event', () => {
    const r = new ProgressReader();
    expect(r.line('WARNING: something')).toEqual(['WARNING: something']);
    expect(r.line('{"not":"progress"}')).toEqual(['{"not":"progress"}']);
    expect(r.line('{broken')).toEqual(['{broken']);
    expect(r.line('   ')).toEqual([]);
  });

  it('joins a log line split across events and prints warnings', () => {
    const r = new ProgressReader();
    const t = '2026-12-02T00:00:00Z';
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    expect(r.line(JSON.stringify({ vertexes: [{ digest: 'd1', name: '[1/1] RUN x', started: t }] }))).toEqual(['', '#1 [1/1] RUN x']);
    expect(r.line(JSON.stringify({ logs: [{ vertex: 'd1', data: b64('hel'), timestamp: t }] }))).toEqual([]);
    expect(r.line(JSON.stringify({ logs: [{ vertex: 'd1', data: b64('lo\nwor'), timestamp: t }] }))).toEqual(['#1 hello']);
    expect(r.line(JSON.stringify({ warnings: [{ vertex: 'd1', short: b64('a warning') }] }))).toEqual(['#1 WARNING: a warning']);
    expect(r.line(JSON.stringify({ vertexes: [{ digest: 'd1', name: '[1/1] RUN x', started: t, completed: '2026-12-02T00:00:02.5Z' }] }))).toEqual([
      '#1 wor',
      '#1 DONE 2.5s',
    ]);
  });

  it('times a step that never completed up to the last event seen', () => {
    const r = new ProgressReader();
    r.line(JSON.stringify({ vertexes: [{ digest: 'd1', name: 'x', started: '2026-12-02T00:00:00Z' }] }));
    r.line(JSON.stringify({ statuses: [{ id: 's', vertex: 'd1', timestamp: '2026-12-02T00:00:03Z' }] }));
    expect(r.steps()).toEqual([{ name: 'x', started: Date.parse('2026-12-02T00:00:00Z'), seconds: 3, cached: false }]);
  });
});

describe('isSolveStatus', () => {
  it.each([
    ['a vertex event', { vertexes: [{ digest: 'sha256:1', name: 'x', cached: true }] }, true],
    ['a log event', { logs: [{ vertex: 'sha256:1', data: 'eA==', timestamp: 'T' }] }, true],
    ['no known list', { other: [] }, false],
    ['a vertex without digest', { vertexes: [{ name: 'x' }] }, false],
    ['cached not a boolean', { vertexes: [{ digest: 'd', cached: 'yes' }] }, false],
    ['a list that is not one', { statuses: {} }, false],
    ['not an object', [1], false],
  ])('%s', (_n, value, want) => {
    expect(isSolveStatus(value)).toBe(want);
  });
});

describe('step names', () => {
  it.each([
    ['[2/3] RUN make', true, 'RUN make', '[2/3] RUN'],
    ['[builder 2/5] RUN GOARCH=arm64 go build', true, 'RUN GOARCH=arm64 go build', '[builder 2/5] RUN'],
    ['[1/2] COPY a /b', false, 'COPY a /b', '[1/2] COPY'],
    ['[internal] load build context', false, 'load build context', '[internal] load'],
    ['exporting to image', false, 'exporting to image', 'exporting to image'],
  ])('%s', (name, run, label, key) => {
    expect([isRunStep(name), stepLabel(name), stepKey(name)]).toEqual([run, label, key]);
  });
});
