import { readFileSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import { applyRanges, blockStart, mergeRanges, type RedactionKind, type RedactionRange } from './redaction-ranges';

export { redactionMarker, type RedactionKind, type RedactionRange } from './redaction-ranges';

/**
 * Scrubbing of secrets from job output. Jobs run hostile code and are given no secrets, so this is the second line:
 * whatever reaches an event, a served file or a log passes through a `SecretScrubber` first.
 *
 * What it catches:
 * - configured values (the process's secret environment variables, explicit extras) verbatim, and as a hostile job
 *   could re-encode them: base64 (standard and URL-safe, at every byte alignment, so also inside a longer encoded
 *   blob such as a Basic auth header), hex (lower/upper case), URL-encoded and JSON-escaped; also when an encoded
 *   form is wrapped over lines (base64 -w76, xxd -p), and a value's prefix cut off at the end of the text (a job
 *   killed mid-print) or its suffix at the start (a tail cut mid-line), down to MIN_EDGE_FRAGMENT characters;
 * - token shapes, whoever's they are: Anthropic/OpenAI keys, GitHub/Slack tokens, AWS access key ids, JWTs, NATS
 *   nkey seeds, Bearer/Basic credentials, PEM private keys, URL credentials, `..._KEY=`/`password: ...` assignments.
 *
 * What it cannot catch (by design it is defence in depth, not a sandbox): a value the job transforms in other ways
 * (reversed, split by other characters, encrypted), and configured values shorter than 8 characters.
 */

/** Environment variables that hold secrets whatever their name's suffix. */
const NAMED_SECRET_ENV = [
  'ANTHROPIC_API_KEY',
  'KAGGLE_KEY',
  'KAGGLE_API_TOKEN',
  'AEVO_LEADERBOARD_SECRET',
  'PGPASSWORD',
  'AEVO_NATS_TOKEN',
  'AEVO_NATS_PASSWORD',
];
/** Names ending like this hold secrets (AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, HF_TOKEN, npm's ..._authToken). */
const SECRET_ENV_SUFFIX = /(?:_(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|APIKEY|NKEY)|_?AUTHTOKEN)$/i;
/** Connection strings whose password (and, for NATS, token-as-user) part is secret. */
const URL_ENV = /(?:_URL|_URI|_DSN)$/i;
/** Configured values shorter than this are ignored: they would redact ordinary words and numbers. */
export const MIN_SECRET_LENGTH = 8;
/** Explicit extras may be shorter (the leaderboard's numeric seed), but not absurdly so. */
const MIN_EXTRA_LENGTH = 4;
/** A configured value's fragment at the very start/end of a text is redacted from this length on. */
export const MIN_EDGE_FRAGMENT = 6;
/** Values longer than this are matched verbatim only (their encodings and edge fragments would cost too much). */
const MAX_ENCODED_LENGTH = 4096;
/** Longest text a file named by KAGGLE_API_TOKEN may have for us to read it as the token. */
const MAX_TOKEN_FILE = 64 * 1024;

interface Shape {
  kind: RedactionKind;
  re: RegExp;
}

// Each regex matches only the part to hide (lookbehind keeps "Bearer ", "scheme://", "KEY=" readable). The
// lookbehinds on [A-Za-z0-9_-] keep ids like "task-…" or "disk-…" from looking like "sk-…" keys. Only PEM blocks
// and wrapped blocks span lines (StreamScrubber holds those back); the rest stay within a line.
const SHAPES: Shape[] = [
  // A PEM block, also unterminated (the text ends inside it). One whose BEGIN was cut off: see PEM_END.
  {
    kind: 'private-key',
    re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
  },
  { kind: 'anthropic-key', re: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{10,}/g },
  // OpenAI-style: at least 20 characters with a digit, so words like "sk-learn-…" survive.
  { kind: 'openai-key', re: /(?<![A-Za-z0-9_-])sk-(?!ant-)(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,}/g },
  { kind: 'github-token', re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})/g },
  { kind: 'aws-access-key', re: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g },
  { kind: 'slack-token', re: /(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}/g },
  // Header and payload are JSON objects, so both start "eyJ"; the signature may be empty (alg none).
  { kind: 'jwt', re: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g },
  { kind: 'nats-nkey', re: /(?<![A-Za-z0-9])S[UAONCPX][A-Z2-7]{56}(?![A-Za-z0-9])/g },
  { kind: 'bearer-token', re: /(?<=\bBearer[ \t]+)[A-Za-z0-9._~+/-]{16,}=*/gi },
  { kind: 'basic-auth', re: /(?<=\bAuthorization["']?[ \t]*[:=][ \t]*["']?Basic[ \t]+)[A-Za-z0-9+/]{8,}={0,2}/gi },
  { kind: 'url-credentials', re: /(?<=\b[A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\s:/@'"<>]+:[^\s/@'"<>]+(?=@)/g },
  // `env` output and config dumps: UPPER_CASE names by suffix, and the usual lower-case key names.
  {
    kind: 'assignment',
    re: /(?<=\b[A-Z][A-Z0-9_]*_(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD)["']?[ \t]*[:=][ \t]*["']?)[^\s"'`,;]{8,}/g,
  },
  {
    kind: 'assignment',
    re: new RegExp(
      '(?<=\\b[A-Za-z0-9_.-]*(?:api[_-]?key|secret[_-]?key|client[_-]?secret|password|passwd|access[_-]?token|' +
        'auth[_-]?token|refresh[_-]?token)["\']?[ \\t]*[:=][ \\t]*["\']?)[^\\s"\'`,;]{8,}',
      'gi',
    ),
  },
];

/** A PEM END line; with the base64 lines before it, it is redacted even when its BEGIN is not in the text. */
const PEM_END = /^-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/gm;

/** Consecutive lines that look like wrapped base64/hex output, where an encoded value may be split. */
const WRAPPED_BLOCK = /(?:^[A-Za-z0-9+/_-]{40,}={0,2}\r?\n)+[A-Za-z0-9+/_-]+={0,2}$/gm;

export interface ScrubOptions {
  /** The text may start in the middle of something (a tail cut mid-line): redact a value's suffix there. */
  fragmentStart?: boolean;
  /** The text may end in the middle of something (a job killed mid-print): redact a value's prefix there. */
  fragmentEnd?: boolean;
}

export interface SecretScrubberConfig {
  /** The environment to take secrets from (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Further values to hide, e.g. the leaderboard's secret seed (at least 4 characters to count). */
  extra?: Iterable<string | number>;
  /** Whether to read the file that KAGGLE_API_TOKEN may name (default true). */
  readTokenFiles?: boolean;
}

/**
 * Redacts configured secret values (and their encodings) and common token shapes from text. Holds the values in a
 * private field and never prints them: `inspect`/`JSON.stringify` show only a count.
 */
export class SecretScrubber {
  readonly #rawValues: string[];
  readonly #rawExtras: string[];
  readonly #values: string[];
  /** Every form a value may take in output, longest first (a longer form wins over its own prefix). */
  readonly #variants: string[];
  /**
   * Keyed by a text's last MIN_EDGE_FRAGMENT characters: the variants with a proper prefix ending in them, and its
   * length, so a value cut off at the end is found with one lookup. `#suffixes` likewise for a text's start.
   */
  readonly #prefixes = new Map<string, Array<[string, number]>>();
  readonly #suffixes = new Map<string, Array<[string, number]>>();

  /**
   * `values` count from MIN_SECRET_LENGTH characters, `extras` (explicit ones, e.g. a numeric seed) from 4; each line
   * of a multi-line value also counts on its own (a line of a key file may be printed alone).
   */
  constructor(values: Iterable<string>, extras: Iterable<string | number> = []) {
    this.#rawValues = [...values];
    this.#rawExtras = [...extras].map(String);
    const set = new Set<string>();
    for (const raw of this.#rawValues) for (const v of splitValue(raw)) if (v.length >= MIN_SECRET_LENGTH) set.add(v);
    for (const raw of this.#rawExtras) for (const v of splitValue(raw)) if (v.length >= MIN_EXTRA_LENGTH) set.add(v);
    this.#values = [...set];
    const variants = new Set<string>();
    for (const v of this.#values) for (const form of encodedForms(v)) variants.add(form);
    this.#variants = [...variants].sort((a, b) => b.length - a.length);
    const add = (map: Map<string, Array<[string, number]>>, key: string, entry: [string, number]) => {
      const list = map.get(key);
      if (list) list.push(entry);
      else map.set(key, [entry]);
    };
    for (const v of this.#variants) {
      if (v.length > MAX_ENCODED_LENGTH) continue;
      for (let k = MIN_EDGE_FRAGMENT; k < v.length; k++) {
        add(this.#prefixes, v.slice(k - MIN_EDGE_FRAGMENT, k), [v, k]);
        add(this.#suffixes, v.slice(v.length - k, v.length - k + MIN_EDGE_FRAGMENT), [v, k]);
      }
    }
  }

  /** Secrets of this process's environment (see SecretScrubberConfig) plus `extra`. */
  static fromEnv(config: SecretScrubberConfig = {}): SecretScrubber {
    const values = secretValuesFromEnv(config.env ?? process.env, config.readTokenFiles ?? true);
    const extras = [...(config.extra ?? [])].map(String);
    // Building the edge-fragment maps is the expensive part and dispatch asks twice per job with an unchanged
    // environment: reuse a scrubber built from exactly the same values (the key holds them, so a changed secret
    // or a new one builds afresh).
    const key = JSON.stringify([values, extras]);
    const cached = scrubberCache.get(key);
    if (cached) return cached;
    const built = new SecretScrubber(values, extras);
    if (scrubberCache.size >= SCRUBBER_CACHE_SIZE) scrubberCache.delete(scrubberCache.keys().next().value as string);
    scrubberCache.set(key, built);
    return built;
  }

  /** A scrubber that also hides `extra` (values of at least 4 characters; numbers are taken as their digits). */
  with(extra: Iterable<string | number>): SecretScrubber {
    return new SecretScrubber(this.#rawValues, [...this.#rawExtras, ...[...extra].map(String)]);
  }

  /** How many distinct values it hides (never the values). */
  get size(): number {
    return this.#values.length;
  }

  /** `text` with every secret replaced by `[redacted:<kind>]`. Both edges are treated as possibly cut. */
  scrub(text: string, opts: ScrubOptions = { fragmentStart: true, fragmentEnd: true }): string {
    return applyRanges(text, this.ranges(text, opts)).text;
  }

  /** The ranges of `text` to redact, sorted and merged (offsets into `text`). */
  ranges(text: string, opts: ScrubOptions = {}): RedactionRange[] {
    const found: RedactionRange[] = [];
    if (text.length === 0) return found;
    for (const v of this.#variants) {
      for (let at = text.indexOf(v); at !== -1; at = text.indexOf(v, at + v.length))
        found.push({ start: at, end: at + v.length, kind: 'secret' });
    }
    if (this.#variants.length > 0 && text.includes('\n')) {
      for (const m of text.matchAll(WRAPPED_BLOCK)) {
        // Search the block with its line breaks taken out, then map the hits back to the text.
        const lines = m[0].split('\n');
        const joined = lines.map((l) => l.replace(/\r$/, '')).join('');
        const hits: Array<[number, number]> = [];
        for (const v of this.#variants) {
          for (let j = joined.indexOf(v); j !== -1; j = joined.indexOf(v, j + v.length)) hits.push([j, j + v.length]);
        }
        if (hits.length === 0) continue;
        // joinedStart[i]: where line i begins in `joined`; textStart[i]: in `text`.
        const joinedStart: number[] = [];
        const textStart: number[] = [];
        for (let i = 0, jp = 0, tp = m.index!; i < lines.length; i++) {
          joinedStart.push(jp);
          textStart.push(tp);
          jp += lines[i].replace(/\r$/, '').length;
          tp += lines[i].length + 1;
        }
        const toText = (j: number) => {
          let i = joinedStart.length - 1;
          while (i > 0 && joinedStart[i] > j) i--;
          return textStart[i] + (j - joinedStart[i]);
        };
        for (const [a, b] of hits) found.push({ start: toText(a), end: toText(b - 1) + 1, kind: 'secret' });
      }
    }
    for (const { kind, re } of SHAPES) {
      re.lastIndex = 0;
      for (const m of text.matchAll(re))
        if (m[0].length > 0) found.push({ start: m.index!, end: m.index! + m[0].length, kind });
    }
    for (const m of text.matchAll(PEM_END))
      found.push({ start: blockStart(text, m.index!, 1), end: m.index! + m[0].length, kind: 'private-key' });
    if (opts.fragmentEnd) {
      const cut = this.#longestFragment(text, 'end');
      if (cut > 0) found.push({ start: text.length - cut, end: text.length, kind: 'secret' });
    }
    if (opts.fragmentStart) {
      const cut = this.#longestFragment(text, 'start');
      if (cut > 0) found.push({ start: 0, end: cut, kind: 'secret' });
    }
    return mergeRanges(found);
  }

  /** Length of the longest proper prefix (at the end) or suffix (at the start) of a variant that `text` shows. */
  #longestFragment(text: string, where: 'start' | 'end'): number {
    if (text.length < MIN_EDGE_FRAGMENT) return 0;
    const key = where === 'end' ? text.slice(-MIN_EDGE_FRAGMENT) : text.slice(0, MIN_EDGE_FRAGMENT);
    let best = 0;
    for (const [v, k] of (where === 'end' ? this.#prefixes : this.#suffixes).get(key) ?? []) {
      if (k > best && (where === 'end' ? text.endsWith(v.slice(0, k)) : text.startsWith(v.slice(v.length - k))))
        best = k;
    }
    return best;
  }

  toJSON(): { secrets: number } {
    return { secrets: this.size };
  }

  [inspect.custom](): string {
    return `SecretScrubber { secrets: ${this.size} }`;
  }
}

const SCRUBBER_CACHE_SIZE = 8;
/** Scrubbers built by fromEnv, by the exact values they hide (immutable once built, so sharing one is safe). */
const scrubberCache = new Map<string, SecretScrubber>();

/** The values of `env` that are secret (unfiltered by length; the scrubber applies the minimum). */
export function secretValuesFromEnv(env: NodeJS.ProcessEnv, readTokenFiles = true): string[] {
  const names = new Set<string>(NAMED_SECRET_ENV);
  for (const n of (env.AEVO_SECRET_ENV ?? '').split(',')) if (n.trim()) names.add(n.trim());
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (
      names.has(name) ||
      SECRET_ENV_SUFFIX.test(name) ||
      /^AEVO_NATS_.*(?:TOKEN|PASS|SEED|NKEY|JWT|CREDS)/i.test(name)
    )
      out.push(value);
    if (URL_ENV.test(name)) out.push(...urlCredentials(value));
  }
  // The Kaggle CLI takes KAGGLE_API_TOKEN as the token or as a file holding it.
  const tokenFile = env.KAGGLE_API_TOKEN?.trim();
  if (readTokenFiles && tokenFile && !/[\r\n]/.test(tokenFile)) {
    try {
      const st = statSync(tokenFile);
      if (st.isFile() && st.size <= MAX_TOKEN_FILE) out.push(readFileSync(tokenFile, 'utf8').trim());
    } catch {
      /* not a file: the value itself is the token */
    }
  }
  return out;
}

/** The secret parts of a connection string: the password, or a NATS token given as the user. */
function urlCredentials(value: string): string[] {
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    return [];
  }
  const out: string[] = [];
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (u.password) out.push(dec(u.password), u.password);
  else if (u.username && /^(?:nats|tls|ws|wss):$/.test(u.protocol)) out.push(dec(u.username), u.username);
  return out;
}

/** A value, trimmed, and each line of a multi-line value (a line of a key file may be printed alone). */
function splitValue(raw: string): string[] {
  const out = [raw, raw.trim()];
  if (/[\r\n]/.test(raw)) out.push(...raw.split(/\r?\n/).map((l) => l.trim()));
  return out.filter((v) => v.length > 0);
}

/**
 * The forms a value may be printed in. Base64 of a value inside a longer payload depends on the value's byte offset
 * mod 3, so for each offset we take the characters determined by the value's bytes alone.
 */
function encodedForms(v: string): string[] {
  const forms = new Set<string>([v]);
  const bytes = Buffer.from(v, 'utf8');
  // Short explicit extras are matched only verbatim: their encodings are too short to be distinctive.
  if (v.length >= MIN_SECRET_LENGTH && v.length <= MAX_ENCODED_LENGTH) {
    forms.add(bytes.toString('hex'));
    forms.add(bytes.toString('hex').toUpperCase());
    forms.add(bytes.toString('base64'));
    forms.add(bytes.toString('base64url'));
    for (let k = 0; k < 3; k++) {
      const std = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
      const from = Math.ceil((8 * k) / 6);
      const to = Math.floor((8 * (k + bytes.length)) / 6);
      const core = std.slice(from, to);
      forms.add(core);
      forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  const pct = encodeURIComponent(v);
  forms.add(pct);
  forms.add(pct.replace(/%[0-9A-F]{2}/g, (s) => s.toLowerCase()));
  forms.add(pct.replace(/%2F/g, '/')); // Python's quote() keeps '/'
  forms.add(JSON.stringify(v).slice(1, -1));
  return [...forms].filter((f) => f.length > 0);
}
