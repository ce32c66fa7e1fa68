// The licences of everything the main bundle may carry: every package in the
// production dependency closure of package.json, each with its `license` field
// and its licence file, in ncc's licenses.txt layout (name, licence, text).
//
// ncc writes licenses.txt once per chunk under the same name, so with
// @actions/cache in a chunk of its own (loaded only when the cache service is
// used) the last chunk written wins and the main chunk's licences are lost.
// This file is written after ncc instead; it lists the whole closure, which is
// a superset of what the bundle holds.
//
// usage: node scripts/licenses.mjs OUT_FILE
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './runner.mjs';

const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/licenses.mjs OUT_FILE');
  process.exit(2);
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** Node's lookup of a package from a directory: the nearest node_modules/<name> upwards. */
function resolve(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === path.dirname(dir)) return undefined;
  }
}

function licenceText(dir) {
  const file = fs
    .readdirSync(dir)
    .filter((f) => /^(licen[cs]e|copying)(\.|-|$)/i.test(f))
    .sort()[0];
  return file ? fs.readFileSync(path.join(dir, file), 'utf8').trim() : '';
}

const seen = new Map();
function visit(name, fromDir, optional) {
  const dir = resolve(name, fromDir);
  if (!dir) {
    if (optional) return;
    throw new Error(`licenses: ${name} (needed from ${fromDir}) is not installed: run npm install`);
  }
  const pkg = readJson(path.join(dir, 'package.json'));
  const key = `${pkg.name}@${pkg.version}`;
  if (seen.has(key)) return;
  seen.set(key, { name: pkg.name, version: pkg.version, license: typeof pkg.license === 'string' ? pkg.license : '', text: licenceText(dir) });
  for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, dir, false);
  // Optional and peer dependencies are bundled when installed (debug's supports-color is).
  for (const dep of Object.keys({ ...pkg.optionalDependencies, ...pkg.peerDependencies, ...pkg.peerDependenciesMeta })) visit(dep, dir, true);
}

for (const dep of Object.keys(readJson(path.join(ROOT, 'package.json')).dependencies ?? {})) visit(dep, ROOT, false);

// One entry per name and licence text (ncc's layout has no versions).
const entries = new Map();
for (const e of [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
  const block = [e.name, e.license, e.text].filter((x) => x !== '').join('\n');
  entries.set(block, block);
}
const text = [...entries.values()].join('\n\n');
fs.writeFileSync(out, `${text}\n`);
