// The bundle maps `undici` to a stand-in (tsconfig.json paths, src/util/no-undici.ts).
// That is only safe while nothing the action runs needs the real package: these
// checks read the installed production tree and our sources, and fail when a
// dependency starts to use undici or our code calls the one method that does.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { ProxyAgent } from '../src/util/no-undici.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function productionPackages(): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes(`${path.sep}node_modules${path.sep}`));
}

function jsFiles(dir: string): string[] {
  const found: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules') found.push(...jsFiles(p));
    else if (e.isFile() && /\.(c|m)?js$/.test(e.name)) found.push(p);
  }
  return found;
}

const nameOf = (dir: string): string => {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string };
  return pkg.name;
};

const UNDICI_IMPORT = /from ['"]undici['"]|require\(['"]undici['"]\)|import\(['"]undici['"]\)/;

describe('the undici stand-in', () => {
  const packages = productionPackages();

  it('is safe because only @actions/http-client among the production dependencies declares undici', () => {
    const dependents = packages.filter((dir) => {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
      return ['dependencies', 'optionalDependencies', 'peerDependencies'].some((k) => pkg[k]?.undici !== undefined);
    });
    expect(dependents.map(nameOf)).toEqual(['@actions/http-client']);
  });

  it('is safe because @actions/http-client takes nothing from undici but ProxyAgent', () => {
    const dir = packages.find((d) => nameOf(d) === '@actions/http-client') as string;
    const imports = jsFiles(dir).flatMap((f) => fs.readFileSync(f, 'utf8').match(/import \{([^}]*)\} from ['"]undici['"]/g) ?? []);
    expect(imports.length).toBeGreaterThan(0);
    for (const i of imports) expect(i.replace(/\s+/g, ' ')).toBe("import { ProxyAgent } from 'undici'");
  });

  it('is safe because no other production package imports undici or calls getAgentDispatcher', () => {
    const offenders = packages
      .filter((d) => !['@actions/http-client', 'undici'].includes(nameOf(d)))
      .flatMap((d) => jsFiles(d).filter((f) => /getAgentDispatcher|\bundici\b/.test(fs.readFileSync(f, 'utf8'))))
      .filter((f) => {
        const text = fs.readFileSync(f, 'utf8');
        return UNDICI_IMPORT.test(text) || text.includes('getAgentDispatcher');
      });
    expect(offenders).toEqual([]);
  });

  it('is safe because our sources neither import undici nor call getAgentDispatcher', () => {
    const src = path.join(ROOT, 'src');
    const walk = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const offenders = walk(src)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('no-undici.ts'))
      .filter((f) => {
        const text = fs.readFileSync(f, 'utf8');
        return UNDICI_IMPORT.test(text) || text.includes('getAgentDispatcher');
      });
    expect(offenders).toEqual([]);
  });

  it('refuses to be built, naming itself, should anything reach it', () => {
    expect(() => new ProxyAgent()).toThrow(/undici is not bundled .*no-undici\.ts/);
  });
});
