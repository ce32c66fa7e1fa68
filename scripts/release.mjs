// The reusable workflow runs the action by its published name
// (`<repository>@<ref>`), so a caller of `.../multiarch.yml@v1.2.3` runs the
// action of v1.2.3 too. On main the ref is `main`; a release commit pins it.
//
//   node scripts/release.mjs check [--ref main]      every self-reference is <repository>@<ref>
//   node scripts/release.mjs pin <ref> [--dir DIR]   rewrite them to <ref> (the release commit)
//
// <repository> is package.json's "repository" (github:owner/name); --repository overrides it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Workflows that run the action itself, relative to the repository root. */
export const SELF_REFERENCING = ['.github/workflows/multiarch.yml'];

export function publishedName(pkg) {
  const repo = typeof pkg.repository === 'string' ? pkg.repository : (pkg.repository?.url ?? '');
  const m = /^(?:github:|https:\/\/github\.com\/)?([\w.-]+\/[\w.-]+?)(?:\.git)?$/.exec(repo);
  if (!m) throw new Error(`package.json "repository" is not github:owner/name (got ${JSON.stringify(repo)})`);
  return m[1];
}

/** `uses: <name>@<ref>` lines (a step's action, not the workflow's sub-paths). */
export function selfRefs(text, name) {
  const re = new RegExp(`^(\\s*-?\\s*uses:\\s*)${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@(\\S+)`, 'gm');
  return [...text.matchAll(re)].map((m) => m[2]);
}

export function pin(text, name, ref) {
  const re = new RegExp(`^(\\s*-?\\s*uses:\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@)\\S+`, 'gm');
  return text.replace(re, `$1${ref}`);
}

function arg(flag, fallback) {
  const i = process.argv.indexOf(flag);
  return i === -1 ? fallback : process.argv[i + 1];
}

function main() {
  const [cmd, value] = process.argv.slice(2);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const name = arg('--repository', publishedName(pkg));
  const dir = path.resolve(arg('--dir', root));
  if (cmd === 'check') {
    const want = arg('--ref', 'main');
    for (const file of SELF_REFERENCING) {
      const refs = selfRefs(fs.readFileSync(path.join(dir, file), 'utf8'), name);
      if (refs.length === 0) throw new Error(`${file}: no step uses ${name}@<ref>`);
      const wrong = refs.filter((r) => r !== want);
      if (wrong.length > 0) throw new Error(`${file}: uses ${name}@${wrong[0]}, expected @${want}`);
    }
    console.log(`${SELF_REFERENCING.join(', ')}: ${name}@${want}`);
    return;
  }
  if (cmd === 'pin' && value) {
    for (const file of SELF_REFERENCING) {
      const p = path.join(dir, file);
      const text = fs.readFileSync(p, 'utf8');
      if (selfRefs(text, name).length === 0) throw new Error(`${file}: no step uses ${name}@<ref>`);
      fs.writeFileSync(p, pin(text, name, value));
    }
    console.log(`pinned ${name}@${value} in ${SELF_REFERENCING.join(', ')}`);
    return;
  }
  console.error('usage: release.mjs check [--ref REF] | pin REF [--dir DIR] [--repository owner/name]');
  process.exit(2);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(`release: ${err.message}`);
    process.exit(1);
  }
}
