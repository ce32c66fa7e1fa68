import { afterEach, beforeEach, describe, expect, it, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadState, parseState, saveState, type PostState } from '../src/state.js';

describe('parseState', () => {
  test.each<[string, string, PostState]>([
    ['nothing saved', '', {}],
    ['both fields', '{"builder":"multiarch-0a1b2c3d","tempDir":"/tmp/multiarch-x"}', { builder: 'multiarch-0a1b2c3d', tempDir: '/tmp/multiarch-x' }],
    ['a temp dir only', '{"tempDir":"/tmp/multiarch-x"}', { tempDir: '/tmp/multiarch-x' }],
    ['empty strings', '{"builder":"","tempDir":""}', {}],
    ['wrong types', '{"builder":5,"tempDir":["/tmp"]}', {}],
    ['null fields', '{"builder":null,"tempDir":null}', {}],
    ['unknown fields dropped', '{"builder":"b","password":"hunter2","extra":{}}', { builder: 'b' }],
    ['JSON null', 'null', {}],
    ['a JSON string', '"multiarch"', {}],
    ['a JSON number', '42', {}],
    ['a JSON array', '["b","/tmp"]', {}],
  ])('%s', (_name, raw, want) => {
    expect(parseState(raw)).toEqual(want);
  });

  it('refuses text that is not JSON instead of guessing (post catches it and only warns)', () => {
    expect(() => parseState('{"builder":')).toThrow(SyntaxError);
  });
});

describe('saveState / loadState', () => {
  let dir: string;
  const saved = { GITHUB_STATE: process.env.GITHUB_STATE, STATE: process.env['STATE_multiarch-state'] };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'state-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (saved.GITHUB_STATE === undefined) delete process.env.GITHUB_STATE;
    else process.env.GITHUB_STATE = saved.GITHUB_STATE;
    if (saved.STATE === undefined) delete process.env['STATE_multiarch-state'];
    else process.env['STATE_multiarch-state'] = saved.STATE;
  });

  it('round-trips through the runner: GITHUB_STATE file in main, STATE_ variable in post', () => {
    const file = path.join(dir, 'state');
    fs.writeFileSync(file, '');
    process.env.GITHUB_STATE = file;
    saveState({ builder: 'multiarch-0a1b2c3d', tempDir: '/tmp/multiarch-x' });

    // The runner's file command format: name<<delimiter, value, delimiter.
    const lines = fs.readFileSync(file, 'utf8').split(os.EOL);
    const m = /^multiarch-state<<(.+)$/.exec(lines[0] ?? '');
    expect(m).not.toBeNull();
    expect(lines[2]).toBe(m?.[1]);
    process.env['STATE_multiarch-state'] = lines[1];
    expect(loadState()).toEqual({ builder: 'multiarch-0a1b2c3d', tempDir: '/tmp/multiarch-x' });
  });

  it('loads an empty state when main saved none', () => {
    delete process.env['STATE_multiarch-state'];
    expect(loadState()).toEqual({});
  });
});
