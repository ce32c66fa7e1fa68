import { describe, expect, it } from '@jest/globals';
import { checkRegistries } from '../src/pipeline/promote.js';
import type { Logger } from '../src/log.js';

const INPUTS = { image: 'a.test/org/app', tags: ['a.test/org/app:1', 'c.test/org/app:1'], promoteTo: ['b.test/rel/app'] };

/** Pings that settle only when the test says so, in any order. */
function pending() {
  const started: string[] = [];
  const settle = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const ping = (r: string): Promise<void> =>
    new Promise((resolve, reject) => {
      started.push(r);
      settle.set(r, { resolve, reject });
    });
  return { started, settle, ping };
}

function logger(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  return { lines, log: { info: (m) => lines.push(m), warning: (m) => lines.push(m), debug: () => undefined, group: (_n, fn) => fn() } };
}

describe('checkRegistries asks every registry at once', () => {
  it('all pings are in flight before any answers, and they are logged in input order', async () => {
    const p = pending();
    const l = logger();
    const done = checkRegistries({ ping: p.ping }, INPUTS, l.log);
    expect(p.started).toEqual(['a.test', 'c.test', 'b.test']);
    for (const r of ['b.test', 'c.test', 'a.test']) p.settle.get(r)?.resolve();
    await done;
    expect(l.lines).toEqual([
      'a.test: reachable, credentials accepted',
      'c.test: reachable, credentials accepted',
      'b.test: reachable, credentials accepted',
    ]);
  });

  it('the error is the first failing registry in input order, whichever failed first', async () => {
    const p = pending();
    const l = logger();
    const done = checkRegistries({ ping: p.ping }, INPUTS, l.log);
    p.settle.get('b.test')?.reject(new Error('b.test: 401 unauthorized'));
    p.settle.get('c.test')?.reject(new Error('c.test: connection refused'));
    p.settle.get('a.test')?.resolve();
    await expect(done).rejects.toThrow('c.test: connection refused');
    expect(l.lines).toEqual(['a.test: reachable, credentials accepted']);
  });
});
