// Writes the README's inputs and outputs tables from action.yml, between the
// `<!-- inputs -->` / `<!-- outputs -->` markers. With --check it changes
// nothing and exits 1 when the README has drifted from action.yml.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const action = parse(fs.readFileSync(path.join(root, 'action.yml'), 'utf8'));
const readmePath = path.join(root, 'README.md');

const cell = (s) =>
  String(s ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\|/g, '\\|');
const code = (s) => (s === undefined || s === '' ? '' : `\`${cell(s)}\``);

export function inputsTable(inputs) {
  const rows = Object.entries(inputs).map(([name, i]) => `| \`${name}\` | ${code(i.default)} | ${cell(i.description)} |`);
  return ['| Input | Default | Description |', '| --- | --- | --- |', ...rows].join('\n');
}

export function outputsTable(outputs) {
  const rows = Object.entries(outputs).map(([name, o]) => `| \`${name}\` | ${cell(o.description)} |`);
  return ['| Output | Description |', '| --- | --- |', ...rows].join('\n');
}

function replaceBetween(text, marker, content) {
  const re = new RegExp(`(<!-- ${marker}:start -->)[\\s\\S]*?(<!-- ${marker}:end -->)`);
  if (!re.test(text)) throw new Error(`README.md has no <!-- ${marker}:start --> ... <!-- ${marker}:end --> section`);
  return text.replace(re, (_m, start, end) => `${start}\n${content}\n${end}`);
}

const current = fs.readFileSync(readmePath, 'utf8');
let next = replaceBetween(current, 'inputs', inputsTable(action.inputs));
next = replaceBetween(next, 'outputs', outputsTable(action.outputs));

if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('README.md inputs/outputs tables differ from action.yml: run `npm run docs` and commit README.md');
    process.exit(1);
  }
  console.log('README.md tables match action.yml');
} else {
  fs.writeFileSync(readmePath, next);
}
