'use strict';
// Command-line flags of the campaign benchmarks.

/** `--name value` flags with typed defaults; `--help` prints them. Unknown flags are refused by name. */
function parseFlags(defaults, usage) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(usage);
      console.log('flags (defaults):', JSON.stringify(defaults));
      process.exit(0);
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m || !(m[1] in defaults)) {
      console.error(
        `unknown flag ${a}; known: ${Object.keys(defaults)
          .map((k) => `--${k}`)
          .join(' ')}`,
      );
      process.exit(2);
    }
    const key = m[1];
    const d = defaults[key];
    if (typeof d === 'boolean' && m[2] === undefined && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))) {
      out[key] = true;
      continue;
    }
    const raw = m[2] !== undefined ? m[2] : argv[++i];
    if (raw === undefined) {
      console.error(`--${key}: a value is expected`);
      process.exit(2);
    }
    if (typeof d === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0) {
        console.error(`--${key}: expected a non-negative number, got "${raw}"`);
        process.exit(2);
      }
      out[key] = n;
    } else if (typeof d === 'boolean') out[key] = raw === 'true' || raw === '1';
    else out[key] = raw;
  }
  return out;
}

module.exports = { parseFlags };
