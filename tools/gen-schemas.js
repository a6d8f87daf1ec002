#!/usr/bin/env node
// Regenerates schemas/ from libs/contracts (builds the library first). `--check` exits 1 when stale.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');
execFileSync('npx', ['tsc', '-p', 'libs/contracts/tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const { generateJsonSchemas } = require(path.join(root, 'libs/contracts/dist/index.js'));
const files = generateJsonSchemas();
const dir = path.join(root, 'schemas');
const check = process.argv.includes('--check');
let stale = 0;
const existing = new Set();
const walk = (d) => {
  for (const f of fs.existsSync(d) ? fs.readdirSync(d) : []) {
    const p = path.join(d, f);
    fs.statSync(p).isDirectory() ? walk(p) : existing.add(path.relative(dir, p));
  }
};
walk(dir);
for (const [rel, content] of Object.entries(files)) {
  const p = path.join(dir, rel);
  existing.delete(rel);
  if (fs.existsSync(p) && fs.readFileSync(p, 'utf8') === content) continue;
  stale++;
  if (!check) {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  console.log(`${check ? 'stale' : 'wrote'} schemas/${rel}`);
}
for (const rel of existing) {
  if (rel === 'README.md' || rel === 'EVENTS.md') continue;
  stale++;
  if (!check) fs.unlinkSync(path.join(dir, rel));
  console.log(`${check ? 'orphan' : 'removed'} schemas/${rel}`);
}
// The event catalog and each service README's generated block (tools/event-catalog.js).
const messagingDist = path.join(root, 'libs/messaging/dist/index.js');
if (!fs.existsSync(messagingDist))
  execFileSync('npx', ['nx', 'run', '@aevo/messaging:build', '--outputStyle=static'], { cwd: root, stdio: 'inherit' });
const catalog = require('./event-catalog');
const cat = catalog.catalogOf(require(path.join(root, 'libs/contracts/dist/index.js')), require(messagingDist));
const generated = { 'schemas/EVENTS.md': catalog.renderCatalog(cat) };
for (const service of cat.services) {
  const readme = path.join('services', service, 'README.md');
  if (!fs.existsSync(path.join(root, readme))) continue;
  generated[readme] = catalog.withServiceBlock(
    fs.readFileSync(path.join(root, readme), 'utf8'),
    catalog.renderServiceBlock(cat, service),
  );
}
for (const [rel, content] of Object.entries(generated)) {
  const p = path.join(root, rel);
  if (fs.existsSync(p) && fs.readFileSync(p, 'utf8') === content) continue;
  stale++;
  if (!check) fs.writeFileSync(p, content);
  console.log(`${check ? 'stale' : 'wrote'} ${rel}`);
}
console.log(
  `${Object.keys(files).length} schemas, the event catalog and ${Object.keys(generated).length - 1} ` +
    `service README block(s): ${stale} ${check ? 'stale' : 'changed'}`,
);
if (check && stale > 0) process.exit(1);
