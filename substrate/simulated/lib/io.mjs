// Files: CSV (RFC 4180), JSON, command-line flags, recipe YAML.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// ---------------------------------------------------------------------------------------------- CSV
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** CSV text -> array of objects keyed by the header row. */
export function readCsv(path) {
  const [header, ...rows] = parseCsv(readFileSync(path, 'utf8'));
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

function csvField(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function writeCsv(path, rows, fields) {
  mkdirSync(dirname(path), { recursive: true });
  const lines = [fields.join(',')];
  for (const r of rows) lines.push(fields.map((f) => csvField(r[f])).join(','));
  writeFileSync(path, lines.join('\n') + '\n');
}

// --------------------------------------------------------------------------------------------- JSON
export function writeJson(path, doc) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
  renameSync(tmp, path);
}

export function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

export function sha256File(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

// -------------------------------------------------------------------------------------------- flags
/** `--name value` pairs -> { name: value }; unknown flags are refused. */
export function parseFlags(argv, known, usage) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(usage + '\n');
      process.exit(0);
    }
    if (!a.startsWith('--')) fail(`unexpected argument ${a}\n${usage}`);
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (!known.includes(name)) fail(`unknown flag --${name}\n${usage}`);
    out[name] = inline !== undefined ? inline : argv[++i];
    if (out[name] === undefined) fail(`--${name} needs a value\n${usage}`);
  }
  return out;
}

export function requireFlags(flags, names, usage) {
  for (const n of names) if (flags[n] === undefined || flags[n] === '') fail(`missing --${n}\n${usage}`);
}

export function fail(message, code = 2) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** A seed flag that may be absent or an unrendered placeholder. */
export function seedFlag(value, fallback) {
  if (value === undefined || value === '' || value === '{seed}') return Number(fallback ?? 0);
  const n = Number(value);
  if (!Number.isInteger(n)) fail(`--seed must be an integer, got ${value}`);
  return n;
}

// ---------------------------------------------------------------------------------------------- YAML
/**
 * Parse recipe YAML.  Uses the `yaml` package when it resolves (it does inside the monorepo); otherwise
 * a built-in parser for the subset recipes use: block mappings and sequences, flow `{}`/`[]`, comments,
 * quoted and plain scalars, null/booleans/numbers.  Both give the same result on recipes.
 */
export function parseYaml(text) {
  try {
    const req = createRequire(import.meta.url);
    const YAML = req('yaml');
    return YAML.parse(text);
  } catch (e) {
    if (e && e.code !== 'MODULE_NOT_FOUND' && e.code !== 'ERR_REQUIRE_ESM') throw e;
    return parseYamlSubset(text);
  }
}

export function loadRecipe(path) {
  const raw = readFileSync(path);
  const doc = parseYaml(raw.toString('utf8')) ?? {};
  if (typeof doc !== 'object' || Array.isArray(doc)) fail(`${path}: a recipe must be a mapping`);
  return { recipe: doc, sha256: createHash('sha256').update(raw).digest('hex') };
}

function stripComment(line) {
  let q = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

function scalar(s) {
  const t = s.trim();
  if (t === '' || t === '~' || t === 'null' || t === 'Null' || t === 'NULL') return null;
  if (/^(true|True|TRUE)$/.test(t)) return true;
  if (/^(false|False|FALSE)$/.test(t)) return false;
  if (/^[-+]?(\d[\d_]*)?\.?\d+([eE][-+]?\d+)?$/.test(t) || /^[-+]?\d+\.$/.test(t)) return Number(t.replace(/_/g, ''));
  if (/^[-+]?\.(inf|Inf|INF)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) return JSON.parse(t);
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 2) return t.slice(1, -1).replace(/''/g, "'");
  return t;
}

function parseFlow(s) {
  let i = 0;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const token = (stops) => {
    ws();
    if (s[i] === '"' || s[i] === "'") {
      const q = s[i];
      let j = i + 1;
      while (j < s.length && !(s[j] === q && s[j + 1] !== q)) j += s[j] === q ? 2 : 1;
      const raw = s.slice(i, j + 1);
      i = j + 1;
      return scalar(raw);
    }
    let j = i;
    while (j < s.length && !stops.includes(s[j])) j++;
    const raw = s.slice(i, j);
    i = j;
    return scalar(raw);
  };
  const value = () => {
    ws();
    if (s[i] === '{') {
      i++;
      const obj = {};
      ws();
      if (s[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        const k = token([':', ',', '}']);
        ws();
        if (s[i] !== ':') throw new Error(`yaml: expected ':' in flow mapping: ${s}`);
        i++;
        obj[String(k)] = value();
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return obj;
        }
        throw new Error(`yaml: bad flow mapping: ${s}`);
      }
    }
    if (s[i] === '[') {
      i++;
      const arr = [];
      ws();
      if (s[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return arr;
        }
        throw new Error(`yaml: bad flow sequence: ${s}`);
      }
    }
    return token([',', '}', ']']);
  };
  const v = value();
  ws();
  if (i !== s.length) throw new Error(`yaml: trailing text in ${s}`);
  return v;
}

function inlineValue(text) {
  const t = text.trim();
  if (t.startsWith('{') || t.startsWith('[')) return parseFlow(t);
  return scalar(t);
}

export function parseYamlSubset(text) {
  const lines = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '---') continue;
    const line = stripComment(raw).replace(/\s+$/, '');
    if (line.trim() === '') continue;
    lines.push({ indent: line.length - line.trimStart().length, text: line.trim() });
  }
  let pos = 0;
  const splitKey = (t) => {
    const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:]+?)\s*:(?:\s+(.*)|$)/.exec(t);
    return m ? [String(scalar(m[1])), m[2] ?? ''] : null;
  };
  const block = (indent) => {
    if (pos >= lines.length) return null;
    if (lines[pos].text.startsWith('- ') || lines[pos].text === '-') {
      const arr = [];
      while (
        pos < lines.length &&
        lines[pos].indent === indent &&
        (lines[pos].text.startsWith('- ') || lines[pos].text === '-')
      ) {
        const rest = lines[pos].text.slice(1).trim();
        pos++;
        if (rest === '') arr.push(pos < lines.length && lines[pos].indent > indent ? block(lines[pos].indent) : null);
        else if (splitKey(rest) && !rest.startsWith('{') && !rest.startsWith('[')) {
          // "- key: value" starts a mapping whose other keys are indented past the dash
          const inner = indent + 2;
          lines.splice(pos, 0, { indent: inner, text: rest });
          arr.push(block(inner));
        } else arr.push(inlineValue(rest));
      }
      return arr;
    }
    const obj = {};
    while (pos < lines.length && lines[pos].indent === indent) {
      const kv = splitKey(lines[pos].text);
      if (!kv) throw new Error(`yaml: cannot parse line: ${lines[pos].text}`);
      pos++;
      const [k, rest] = kv;
      if (rest.trim() !== '') obj[k] = inlineValue(rest);
      else if (
        pos < lines.length &&
        (lines[pos].indent > indent || (lines[pos].indent === indent && lines[pos].text.startsWith('- ')))
      )
        obj[k] = block(lines[pos].indent);
      else obj[k] = null;
    }
    return obj;
  };
  if (!lines.length) return null;
  if (/^[[{]/.test(lines[0].text)) return parseFlow(lines.map((l) => l.text).join(' ')); // a flow (JSON-like) document
  return block(lines[0].indent);
}
