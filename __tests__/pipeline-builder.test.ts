// The builder phase's order: a buildx to install comes before the builder;
// without one, the check of the installed buildx runs beside the builder's
// set-up, and its failure is the phase's error.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { setupBuilder, type BuilderPhaseInputs } from '../src/pipeline/builder.js';
import type { Exec } from '../src/exec.js';

const inspect = readFileSync(path.join(import.meta.dirname, 'fixtures', 'buildx', 'inspect-remote.txt'), 'utf8');
const inputs = (over: Partial<BuilderPhaseInputs> = {}): BuilderPhaseInputs => ({
  builder: '',
  driver: 'remote',
  driverOpts: [],
  endpoint: 'unix:///run/buildkit/buildkitd.sock',
  buildkitdConfig: '',
  buildkitdConfigInline: '',
  nodes: [],
  buildxVersion: '',
  ...over,
});

/** Records the order of events; each docker call and the buildx check take 20 ms. */
function world(opts: { checkFails?: boolean; createFails?: boolean } = {}) {
  const events: string[] = [];
  const tick = () => new Promise((r) => setTimeout(r, 20));
  const exec: Exec = async (_cmd, args) => {
    events.push(`start ${args[1]}`);
    await tick();
    events.push(`end ${args[1]}`);
    if (args[1] === 'create' && opts.createFails) throw new Error('buildx create failed');
    return { exitCode: 0, stdout: args[1] === 'inspect' ? inspect : '', stderr: '' };
  };
  const created: string[] = [];
  const rt = {
    tempDir: '/tmp',
    builderName: 'multiarch-test',
    log: { info: () => undefined } as never,
    ensureBuildx: async () => {
      events.push('start check');
      await tick();
      events.push('end check');
      if (opts.checkFails) throw new Error('docker buildx is not installed; set buildx-version to install it');
    },
  };
  return { exec, rt, events, created, onCreated: (n: string) => created.push(n) };
}

describe('setupBuilder', () => {
  it('without buildx-version, checks the installed buildx while it creates the builder', async () => {
    const w = world();
    const b = await setupBuilder(w.exec, inputs(), w.rt, w.onCreated);
    expect(b.name).toBe('multiarch-test');
    expect(w.events.indexOf('start create')).toBeLessThan(w.events.indexOf('end check'));
    expect(w.created).toEqual(['multiarch-test']);
  });

  it('with buildx-version, installs buildx before anything else runs', async () => {
    const w = world();
    await setupBuilder(w.exec, inputs({ buildxVersion: 'v0.30.1' }), w.rt, w.onCreated);
    expect(w.events.slice(0, 3)).toEqual(['start check', 'end check', 'start create']);
  });

  it('a failed check is the error, and a builder created meanwhile is still handed over for removal', async () => {
    const w = world({ checkFails: true });
    await expect(setupBuilder(w.exec, inputs(), w.rt, w.onCreated)).rejects.toThrow('docker buildx is not installed');
    expect(w.created).toEqual(['multiarch-test']);
  });

  it('the check failing wins over the builder failing too', async () => {
    const w = world({ checkFails: true, createFails: true });
    await expect(setupBuilder(w.exec, inputs(), w.rt, w.onCreated)).rejects.toThrow('docker buildx is not installed');
    expect(w.created).toEqual([]);
  });
});
