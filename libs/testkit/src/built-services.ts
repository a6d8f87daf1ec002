import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Throws, naming what to build, unless every service's `dist/main.js` exists under `root`. Suites that start
 * other services as processes check this instead of building them: a build run from inside a test restores
 * shared libraries' `dist/` from Nx's cache (delete, then copy) while other suites' processes load them, which
 * made them fail with "Cannot find module". `npm test` builds everything before any suite runs.
 */
export function requireBuiltServices(root: string, services: readonly string[]): void {
  const missing = services.filter((s) => !fs.existsSync(path.join(root, 'services', s, 'dist', 'main.js')));
  if (missing.length > 0)
    throw new Error(
      `build these services first (npx nx run-many -t build -p ${missing.map((s) => `@aevo/${s}`).join(',')}): no ` +
        `dist/main.js for ${missing.join(', ')}`,
    );
}
