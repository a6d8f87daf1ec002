import { DomainError, EntrypointName, Placeholder, type IssueDetail, type SubstrateManifest } from '@aevo/contracts';

/**
 * Placeholders in entrypoint argv strings: `{name}` or `{name:format}` (format: Python's `[0][width]d`, e.g.
 * `{step:06d}`). `{{` and `}}` are literal braces, so inline scripts can still contain them.
 */
export interface PlaceholderRef {
  name: string;
  format: string | null;
  /** The exact text replaced, e.g. "{step:06d}". */
  raw: string;
}

type Part = { literal: string } | { ref: PlaceholderRef };

export class PlaceholderSyntaxError extends Error {}

function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '{' && template[i + 1] === '{') {
      literal += '{';
      i++;
    } else if (c === '}' && template[i + 1] === '}') {
      literal += '}';
      i++;
    } else if (c === '{') {
      const end = template.indexOf('}', i + 1);
      if (end < 0)
        throw new PlaceholderSyntaxError(`unclosed "{" at character ${i + 1} (write "{{" for a literal brace)`);
      const body = template.slice(i + 1, end);
      const m = /^([a-z_][a-z0-9_]*)(?::([^{}]*))?$/.exec(body);
      if (!m) throw new PlaceholderSyntaxError(`malformed placeholder "{${body}}" (expected {name} or {name:format})`);
      if (m[2] !== undefined && !/^0?\d*d$/.test(m[2]))
        throw new PlaceholderSyntaxError(`unsupported format "${m[2]}" in {${body}} (supported: d, 06d, …)`);
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ ref: { name: m[1], format: m[2] ?? null, raw: `{${body}}` } });
      i = end;
    } else if (c === '}') {
      throw new PlaceholderSyntaxError(`unmatched "}" at character ${i + 1} (write "}}" for a literal brace)`);
    } else literal += c;
  }
  if (literal) parts.push({ literal });
  return parts;
}

/** The placeholders a template refers to, in order. Throws PlaceholderSyntaxError on malformed braces. */
export function placeholdersIn(template: string): PlaceholderRef[] {
  return parseTemplate(template).flatMap((p) => ('ref' in p ? [p.ref] : []));
}

function formatValue(ref: PlaceholderRef, value: string | number): string {
  if (ref.format === null) return String(value);
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n))
    throw new PlaceholderSyntaxError(`{${ref.name}:${ref.format}} needs an integer, got ${JSON.stringify(value)}`);
  const m = /^(0?)(\d*)d$/.exec(ref.format)!;
  const width = m[2] ? Number(m[2]) : 0;
  const digits = String(Math.abs(n));
  const sign = n < 0 ? '-' : '';
  if (m[1] === '0') return sign + digits.padStart(Math.max(0, width - sign.length), '0');
  return (sign + digits).padStart(width, ' ');
}

export type PlaceholderValues = Partial<Record<string, string | number>>;

/** Substitutes every placeholder of one template; `missing` collects the names that had no value. */
export function renderTemplate(template: string, values: PlaceholderValues, missing?: Set<string>): string {
  return parseTemplate(template)
    .map((p) => {
      if ('literal' in p) return p.literal;
      const v = values[p.ref.name];
      if (v === undefined || v === null) {
        if (missing) {
          missing.add(p.ref.name);
          return p.ref.raw;
        }
        throw new DomainError('MISSING_PLACEHOLDER_VALUE', `no value for placeholder {${p.ref.name}}`, [
          { path: `values.${p.ref.name}`, message: 'required by the template' },
        ]);
      }
      return formatValue(p.ref, v);
    })
    .join('');
}

/** Commands a substrate declares: its four entrypoints and, when present, the leaderboard's two. */
export type CommandName = EntrypointName | 'leaderboard.generate' | 'leaderboard.score';

export function commandTemplate(manifest: SubstrateManifest, name: CommandName): string[] {
  if (name === 'leaderboard.generate' || name === 'leaderboard.score') {
    if (!manifest.leaderboard)
      throw new DomainError('NO_LEADERBOARD_COMMANDS', `substrate ${manifest.name} declares no leaderboard section`, [
        { path: 'leaderboard', message: 'missing in substrate.yaml' },
      ]);
    return name === 'leaderboard.generate' ? manifest.leaderboard.generate : manifest.leaderboard.score;
  }
  const parsed = EntrypointName.safeParse(name);
  if (!parsed.success)
    throw new DomainError('UNKNOWN_ENTRYPOINT', `unknown entrypoint "${String(name)}"`, [
      {
        path: 'name',
        message:
          'expected one of ' + [...EntrypointName.options, 'leaderboard.generate', 'leaderboard.score'].join(', '),
      },
    ]);
  return manifest.entrypoints[parsed.data].command;
}

/**
 * The argv of an entrypoint with every `{placeholder}` substituted. A placeholder without a value is an error
 * naming it (all of them at once), so a job is never started with a literal "{checkpoint}" in its argv.
 */
export function renderEntrypoint(manifest: SubstrateManifest, name: CommandName, values: PlaceholderValues): string[] {
  const template = commandTemplate(manifest, name);
  const missing = new Set<string>();
  const argv = template.map((arg) => renderTemplate(arg, values, missing));
  if (missing.size > 0) {
    const names = [...missing];
    throw new DomainError(
      'MISSING_PLACEHOLDER_VALUE',
      `entrypoint ${name} needs a value for ${names.map((n) => `{${n}}`).join(', ')}`,
      names.map((n): IssueDetail => ({ path: `values.${n}`, message: `required by ${name}'s command` })),
    );
  }
  return argv;
}

/** Name of the checkpoint directory for a training step, from `outputs.checkpointDir` (e.g. "step-000100"). */
export function checkpointDirName(manifest: SubstrateManifest, step: number): string {
  return renderTemplate(manifest.outputs.checkpointDir, { step });
}

export const KNOWN_PLACEHOLDERS: readonly string[] = Placeholder.options;
/** Known only to the leaderboard, which runs outside every sandbox; a sandbox entrypoint must never see it. */
export const LEADERBOARD_ONLY_PLACEHOLDERS: readonly string[] = ['secret_seed', 'secret_seed_file'];

/** Declared outputs that name a file (written into a directory of its own); the others name a directory. */
const FILE_OUTPUTS = new Set(['scores', 'predictions']);
/** Declared inputs that may lie outside the sandbox (the leaderboard's prompts and answers). */
const EXTERNAL_INPUTS = new Set(['prompts', 'answers']);

/**
 * The writable directories and outside inputs of one entrypoint's job, from what the substrate declares: a job may
 * write only its declared outputs (a file output's directory, which must then hold nothing else) and read, besides
 * its sandbox, only the external files it declares. The values are the ones its argv was rendered with.
 */
export function entrypointIsolation(
  manifest: SubstrateManifest,
  name: EntrypointName,
  values: PlaceholderValues,
): { outputs: string[]; inputs: string[] } {
  const ep = manifest.entrypoints[name];
  const valueOf = (p: string, kind: 'outputs' | 'inputs'): string => {
    const v = values[p];
    if (v === undefined || v === '')
      throw new DomainError(
        'MISSING_PLACEHOLDER_VALUE',
        `entrypoint ${name} declares ${kind} {${p}} but no value was given`,
        [{ path: `values.${p}`, message: `declared in entrypoints.${name}.${kind}` }],
      );
    return String(v);
  };
  const outputs = ep.outputs.map((p) => {
    const v = valueOf(p, 'outputs');
    return FILE_OUTPUTS.has(p) ? posixDirname(v) : v;
  });
  const inputs = ep.inputs.filter((p) => EXTERNAL_INPUTS.has(p)).map((p) => valueOf(p, 'inputs'));
  return { outputs: [...new Set(outputs)], inputs: [...new Set(inputs)] };
}

const posixDirname = (p: string): string => {
  const i = p.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '.') : p.slice(0, i);
};
