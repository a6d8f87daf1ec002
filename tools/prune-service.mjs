#!/usr/bin/env node
// Prunes the built monorepo to what ONE service needs at run time, for its container image (deploy/images/
// service.Dockerfile runs this) and for test/deploy/prune-and-start.spec.ts (which runs the same thing into a
// temporary directory and starts the service from there alone).
//
//   node tools/prune-service.mjs <service> <outDir> [--json]
//
// Writes into <outDir> (which must be missing or empty):
//   services/<service>/{package.json,dist/}       the service's build output
//   libs/<lib>/{package.json,dist/}              each workspace library it reaches (declared or required)
//   package.json, package-lock.json              a workspace root whose lockfile is the repository's lockfile cut
//                                                down to the packages those workspaces reach: `npm ci --omit=dev`
//                                                there installs exactly the versions the repository runs with
//   deploy/constitutions/, substrate/            only for the services that read them at run time (RUNTIME_DATA)
// The layout is the repository's, so `node services/<service>/dist/main.js` from <outDir> behaves as in the repo.
//
// Which third-party packages: every package a workspace declares in `dependencies`, plus every root `dependencies`
// entry that the workspaces' compiled code names as a module (`require("x")`, `import("x")`, or any call with the
// package name as its only string argument: executors loads @kubernetes/client-node through createRequire).
// Code that requires a package found in neither place (a devDependency, or nothing) is an error naming the file.
// --json prints { service, workspaces, packages, specifiers: [{ file, specifier }] } for the test to resolve.
import { builtinModules } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Files a service reads at run time besides code: the orchestrator and meta-policy resolve constitutions under
 *  deploy/constitutions, the orchestrator and substrate resolve reference substrates under substrate/. */
export const RUNTIME_DATA = {
  orchestrator: ['deploy/constitutions', 'substrate'],
  substrate: ['substrate'],
  'meta-policy': ['deploy/constitutions'],
};

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`; relative and absolute paths → null. */
export function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every workspace of the repository by package name: { dir (relative), manifest }. */
export function workspaces(root = ROOT) {
  const out = new Map();
  for (const group of ['libs', 'services']) {
    for (const name of fs.readdirSync(path.join(root, group)).sort()) {
      const file = path.join(root, group, name, 'package.json');
      if (!fs.existsSync(file)) continue;
      const manifest = readJson(file);
      out.set(manifest.name, { dir: `${group}/${name}`, manifest });
    }
  }
  return out;
}

function* jsFiles(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* jsFiles(p);
    else if (/\.(c|m)?js$/.test(entry.name)) yield p;
  }
}

const REQUIRE_OR_IMPORT = /\b(?:require(?:\.resolve)?|import)\s*\(\s*(['"`])([^'"`\s]+)\1\s*\)/g;

/** Module specifiers named by the compiled code under `distDir`: [{ file, specifier }], bare ones only. */
export function specifiersIn(distDir, rootDependencyNames) {
  const found = [];
  const anyCall = rootDependencyNames.length
    ? new RegExp(
        `\\(\\s*(['"\`])((?:` +
          `${rootDependencyNames.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')}` +
          `)(?:/[^'"\`\\s]*)?)\\1\\s*\\)`,
        'g',
      )
    : null;
  for (const file of jsFiles(distDir)) {
    const text = fs.readFileSync(file, 'utf8');
    const seen = new Set();
    for (const re of [REQUIRE_OR_IMPORT, anyCall]) {
      if (!re) continue;
      re.lastIndex = 0;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        const specifier = m[2];
        if (seen.has(specifier) || BUILTINS.has(specifier) || packageOf(specifier) === null) continue;
        seen.add(specifier);
        found.push({ file, specifier });
      }
    }
  }
  return found;
}

/**
 * The plan for one service: which workspaces, which root-supplied packages, and the pruned lockfile.
 * Throws with a specific message when the service is unknown, unbuilt, or its code needs an undeclared package.
 */
export function planPrune(service, root = ROOT) {
  const all = workspaces(root);
  const start = [...all.values()].find((w) => w.dir === `services/${service}`);
  if (!start) {
    const known = [...all.values()]
      .filter((w) => w.dir.startsWith('services/'))
      .map((w) => w.dir.slice('services/'.length));
    throw new Error(`prune-service: unknown service "${service}"; expected one of ${known.join(', ')}`);
  }
  const rootManifest = readJson(path.join(root, 'package.json'));
  const lock = readJson(path.join(root, 'package-lock.json'));
  const rootDeps = rootManifest.dependencies ?? {};
  const rootDevDeps = rootManifest.devDependencies ?? {};

  const chosen = new Map(); // package name → workspace
  const specifiers = [];
  // package → range: packages the workspaces use without declaring them (the repo root provides them)
  const rootSupplied = new Map();
  const warnings = new Set();
  const problems = [];
  const queue = [start.manifest.name];
  while (queue.length) {
    const name = queue.shift();
    if (chosen.has(name)) continue;
    const ws = all.get(name);
    chosen.set(name, ws);
    const dist = path.join(root, ws.dir, 'dist');
    if (!fs.existsSync(dist))
      throw new Error(
        `prune-service: ${ws.dir}/dist is missing: build it first (npx nx run ${ws.dir.split('/')[1]}:build)`,
      );
    const declared = ws.manifest.dependencies ?? {};
    for (const dep of Object.keys(declared)) if (all.has(dep)) queue.push(dep);
    for (const s of specifiersIn(dist, Object.keys(rootDeps))) {
      specifiers.push(s);
      const pkg = packageOf(s.specifier);
      if (all.has(pkg)) queue.push(pkg);
      else if (pkg in declared) continue;
      else if (pkg in rootDeps) rootSupplied.set(pkg, rootDeps[pkg]);
      else if (
        lock.packages[`node_modules/${pkg}`] &&
        !lock.packages[`node_modules/${pkg}`].dev &&
        !lock.packages[`node_modules/${pkg}`].devOptional
      ) {
        // A phantom dependency: present only because npm hoisted it out of another package. Pinned to the version the
        // repository runs with, and reported so that someone declares it.
        rootSupplied.set(pkg, lock.packages[`node_modules/${pkg}`].version);
        warnings.add(
          `${ws.dir} requires "${pkg}" without declaring it (hoisted from another package; pinned to ` +
            `${rootSupplied.get(pkg)})`,
        );
      } else
        problems.push(
          `${path.relative(root, s.file)} requires "${s.specifier}", which ` +
            `${pkg in rootDevDeps ? 'is only a root devDependency' : 'no package.json declares'} (declare it ` +
            `in ${ws.dir}/package.json dependencies)`,
        );
    }
  }
  if (problems.length) throw new Error(`prune-service ${service}: ${problems.join('; ')}`);

  const lockPackages = {};
  const wsDirs = [...chosen.values()].map((w) => w.dir).sort();
  const prunedManifests = new Map();
  for (const ws of chosen.values()) {
    const m = ws.manifest;
    // Only what runs: devDependencies would make `npm ci` look for packages this lockfile no longer holds.
    const pruned = {
      name: m.name,
      version: m.version,
      private: true,
      main: m.main,
      ...(m.types ? { types: m.types } : {}),
      dependencies: m.dependencies ?? {},
    };
    prunedManifests.set(ws.dir, pruned);
  }
  const rootDependencies = Object.fromEntries([...rootSupplied].sort(([a], [b]) => (a < b ? -1 : 1)));
  const prunedRoot = {
    name: `aevo-${service}-runtime`,
    version: rootManifest.version,
    private: true,
    workspaces: wsDirs,
    dependencies: rootDependencies,
    engines: rootManifest.engines,
  };

  // Walks the repository lockfile from the pruned roots with Node's resolution (nearest node_modules upwards).
  const keep = new Set();
  const missing = [];
  const resolveFrom = (location, dep) => {
    let base = location;
    for (;;) {
      const candidate = base === '' ? `node_modules/${dep}` : `${base}/node_modules/${dep}`;
      if (lock.packages[candidate]) return candidate;
      if (base === '') return null;
      const i = base.lastIndexOf('/node_modules/');
      base = i >= 0 ? base.slice(0, i) : ''; // libs/x and node_modules/a both fall back to the root's node_modules
    }
  };
  const visit = (location, deps, optional) => {
    for (const dep of Object.keys(deps ?? {})) {
      const at = resolveFrom(location, dep);
      if (at === null) {
        if (!optional) missing.push(`${dep} (needed by ${location || 'the root'})`);
        continue;
      }
      if (keep.has(at)) continue;
      keep.add(at);
      const entry = lock.packages[at];
      if (entry.link) continue; // a workspace: walked as its own root below
      visit(at, entry.dependencies, false);
      visit(at, entry.optionalDependencies, true);
      const optionalPeers = entry.peerDependenciesMeta ?? {};
      visit(
        at,
        Object.fromEntries(Object.entries(entry.peerDependencies ?? {}).filter(([p]) => !optionalPeers[p]?.optional)),
        true,
      );
      // An optional peer that the repository installs for production is one a framework loads by name when present
      // (@nestjs/core loads @nestjs/platform-express for an HTTP app): no code names it, but the service needs it.
      for (const p of Object.keys(entry.peerDependencies ?? {}))
        if (optionalPeers[p]?.optional && p in rootDeps && !(p in rootDependencies)) loadedByName.add(p);
    }
  };
  const loadedByName = new Set();
  for (;;) {
    keep.clear();
    missing.length = 0;
    // npm links every workspace into node_modules, the service itself included.
    for (const ws of chosen.values()) keep.add(`node_modules/${ws.manifest.name}`);
    visit('', rootDependencies, false);
    for (const dir of wsDirs) visit(dir, prunedManifests.get(dir).dependencies, false);
    const added = [...loadedByName].filter((p) => !(p in rootDependencies));
    if (added.length === 0) break;
    for (const p of added) rootDependencies[p] = rootDeps[p];
  }
  const sortedRootDeps = Object.entries(rootDependencies).sort(([a], [b]) => (a < b ? -1 : 1));
  for (const k of Object.keys(rootDependencies)) delete rootDependencies[k];
  Object.assign(rootDependencies, Object.fromEntries(sortedRootDeps));
  if (missing.length)
    throw new Error(
      `prune-service ${service}: package-lock.json has no entry for ${missing.join(', ')}: run npm install at the root`,
    );

  lockPackages[''] = {
    name: prunedRoot.name,
    version: prunedRoot.version,
    workspaces: wsDirs,
    dependencies: rootDependencies,
    engines: prunedRoot.engines,
  };
  for (const at of [...keep].sort()) {
    const entry = lock.packages[at];
    if (entry.link && !wsDirs.includes(entry.resolved))
      throw new Error(
        `prune-service ${service}: ${at} links to ${entry.resolved}, which is not among the chosen workspaces`,
      );
    lockPackages[at] = entry;
  }
  for (const dir of wsDirs) {
    const m = prunedManifests.get(dir);
    lockPackages[dir] = { name: m.name, version: m.version, dependencies: m.dependencies };
  }
  const prunedLock = {
    name: prunedRoot.name,
    version: prunedRoot.version,
    lockfileVersion: lock.lockfileVersion,
    requires: true,
    packages: sortKeys(lockPackages),
  };
  const thirdParty = [...keep]
    .filter((k) => !lock.packages[k].link)
    .map((k) => k.replace(/^.*node_modules\//, ''))
    .sort();
  return {
    service,
    root,
    workspaceDirs: wsDirs,
    prunedManifests,
    prunedRoot,
    prunedLock,
    thirdParty,
    specifiers,
    warnings: [...warnings],
    data: RUNTIME_DATA[service] ?? [],
  };
}

function sortKeys(o) {
  return Object.fromEntries(
    Object.entries(o).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
  );
}

function copyTree(from, to) {
  fs.cpSync(from, to, { recursive: true, filter: (src) => !src.endsWith('.tsbuildinfo') });
}

/** Writes the plan into `outDir` (missing or empty). */
export function writePrune(plan, outDir) {
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0)
    throw new Error(`prune-service: ${outDir} is not empty`);
  fs.mkdirSync(outDir, { recursive: true });
  for (const dir of plan.workspaceDirs) {
    fs.mkdirSync(path.join(outDir, dir), { recursive: true });
    fs.writeFileSync(
      path.join(outDir, dir, 'package.json'),
      JSON.stringify(plan.prunedManifests.get(dir), null, 2) + '\n',
    );
    copyTree(path.join(plan.root, dir, 'dist'), path.join(outDir, dir, 'dist'));
  }
  for (const d of plan.data) copyTree(path.join(plan.root, d), path.join(outDir, d));
  fs.writeFileSync(path.join(outDir, 'package.json'), JSON.stringify(plan.prunedRoot, null, 2) + '\n');
  fs.writeFileSync(path.join(outDir, 'package-lock.json'), JSON.stringify(plan.prunedLock, null, 2) + '\n');
}

function main(argv) {
  const args = argv.filter((a) => a !== '--json');
  if (args.length !== 2) {
    console.error('usage: node tools/prune-service.mjs <service> <outDir> [--json]');
    process.exit(2);
  }
  const [service, outDir] = args;
  try {
    const plan = planPrune(service);
    writePrune(plan, path.resolve(outDir));
    for (const w of plan.warnings) console.error(`prune-service ${service}: warning: ${w}`);
    if (argv.includes('--json')) {
      const specifiers = plan.specifiers.map((s) => ({
        file: path.relative(plan.root, s.file),
        specifier: s.specifier,
      }));
      console.log(
        JSON.stringify({
          service,
          workspaces: plan.workspaceDirs,
          packages: plan.thirdParty,
          warnings: plan.warnings,
          specifiers,
        }),
      );
    } else {
      console.log(
        `prune-service: ${service} → ${outDir}: ${plan.workspaceDirs.length} workspaces, ` +
          `${plan.thirdParty.length} packages${plan.data.length ? `, data ${plan.data.join(', ')}` : ''}`,
      );
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
