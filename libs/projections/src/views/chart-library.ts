import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Chart.js's UMD build (one file, defines the global `Chart`), read from the installed package. The package's
 * `exports` map hides dist/ files, so it is found next to the package's main entry.
 */
export function chartJsUmdPath(): string {
  const main = require.resolve('chart.js');
  const file = path.join(path.dirname(main), 'chart.umd.js');
  if (!fs.existsSync(file)) throw new Error(`chart.js UMD build not found at ${file} (is chart.js 4 installed?)`);
  return file;
}

let cached: string | null = null;
export function chartJsUmdSource(): string {
  cached ??= fs.readFileSync(chartJsUmdPath(), 'utf8');
  return cached;
}
