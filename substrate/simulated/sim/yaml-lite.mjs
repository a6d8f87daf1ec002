// A small YAML reader for recipes (block mappings, block sequences of scalars, flow maps/lists, comments,
// quoted strings). The simulated substrate has no dependencies, so a sandbox outside the repository runs it.
function scalar(raw) {
  const s = raw.trim();
  if (s === '' || s === '~' || s === 'null') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  if ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))) {
    return s.startsWith('"') ? JSON.parse(s) : s.slice(1, -1).replace(/''/g, "'");
  }
  if (s.startsWith('{') || s.startsWith('[')) return flow(s);
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  return s;
}

function splitFlow(body) {
  const parts = [];
  let depth = 0, quote = null, cur = '';
  for (const ch of body) {
    if (quote) { cur += ch; if (ch === quote) quote = null; continue; }
    if (ch === '"' || ch === "'") { quote = ch; cur += ch; continue; }
    if (ch === '{' || ch === '[') depth++;
    if (ch === '}' || ch === ']') depth--;
    if (ch === ',' && depth === 0) { parts.push(cur); cur = ''; continue; }
    cur += ch;
  }
  if (cur.trim() !== '') parts.push(cur);
  return parts;
}

function flow(s) {
  const body = s.slice(1, -1);
  if (s.startsWith('[')) return splitFlow(body).map(scalar);
  const out = {};
  for (const part of splitFlow(body)) {
    const i = part.indexOf(':');
    if (i < 0) throw new Error(`bad flow mapping entry "${part.trim()}"`);
    out[String(scalar(part.slice(0, i)))] = scalar(part.slice(i + 1));
  }
  return out;
}

function stripComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) { if (ch === quote) quote = null; continue; }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

export function parseYaml(text) {
  const lines = text.split('\n').map((l) => stripComment(l).replace(/\s+$/, '')).filter((l) => l.trim() !== '' && l.trim() !== '---');
  let i = 0;
  const indentOf = (l) => l.length - l.trimStart().length;
  function block(indent) {
    if (i >= lines.length) return null;
    if (lines[i].trimStart().startsWith('- ') || lines[i].trim() === '-') {
      const arr = [];
      while (i < lines.length && indentOf(lines[i]) === indent && lines[i].trimStart().startsWith('-')) {
        arr.push(scalar(lines[i].trimStart().slice(1)));
        i++;
      }
      return arr;
    }
    const obj = {};
    while (i < lines.length && indentOf(lines[i]) === indent) {
      const line = lines[i].trim();
      const m = /^("[^"]*"|'[^']*'|[^:]+?):(\s+(.*))?$/.exec(line);
      if (!m) throw new Error(`cannot parse YAML line ${i + 1}: "${line}"`);
      const key = String(scalar(m[1]));
      i++;
      if (m[3] !== undefined && m[3] !== '') obj[key] = scalar(m[3]);
      else if (i < lines.length && indentOf(lines[i]) > indent) obj[key] = block(indentOf(lines[i]));
      else if (i < lines.length && indentOf(lines[i]) === indent && lines[i].trimStart().startsWith('-')) obj[key] = block(indent);
      else obj[key] = null;
    }
    return obj;
  }
  const doc = block(lines.length ? indentOf(lines[0]) : 0) ?? {};
  if (i < lines.length) throw new Error(`cannot parse YAML line ${i + 1}: "${lines[i].trim()}" (unexpected indentation)`);
  return doc;
}
