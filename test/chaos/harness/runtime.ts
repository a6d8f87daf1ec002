import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './supervisor';

/** Sources, tests and nested dependencies stay behind: a service runs from its package.json and dist/. */
const LEAVE_OUT = new Set(['src', 'test', 'node_modules', 'coverage']);

function copyPackage(from: string, to: string): void {
  fs.cpSync(from, to, {
    recursive: true,
    dereference: false,
    filter: (src) => {
      const rel = path.relative(from, src);
      if (rel === '') return true;
      const first = rel.split(path.sep)[0];
      return !LEAVE_OUT.has(first) && !/\.spec\.(ts|js)$/.test(rel) && !rel.endsWith('.tsbuildinfo');
    },
  });
}

/**
 * A frozen copy of the built services and libraries (`<dir>/services/<name>/dist`, `<dir>/node_modules/@aevo/<lib>`),
 * with every third-party package linked from the repository's node_modules. Every run of the suite starts the
 * same code even if someone rebuilds a project in the working tree meanwhile (a changed evidence library halfway
 * through would make runs differ for reasons that have nothing to do with recovery).
 */
export function snapshotRuntime(dir: string): string {
  const root = path.join(dir, 'runtime');
  const modules = path.join(root, 'node_modules');
  fs.mkdirSync(path.join(modules, '@aevo'), { recursive: true });
  for (const entry of fs.readdirSync(path.join(REPO_ROOT, 'node_modules'))) {
    if (entry === '@aevo') continue;
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', entry), path.join(modules, entry));
  }
  const workspaces = path.join(REPO_ROOT, 'node_modules', '@aevo');
  for (const name of fs.readdirSync(workspaces)) {
    const real = fs.realpathSync(path.join(workspaces, name));
    const rel = path.relative(REPO_ROOT, real);
    if (rel.startsWith(`libs${path.sep}`)) copyPackage(real, path.join(modules, '@aevo', name));
    else if (rel.startsWith(`services${path.sep}`)) {
      copyPackage(real, path.join(root, rel));
      fs.symlinkSync(path.join(root, rel), path.join(modules, '@aevo', name));
    }
  }
  return root;
}
