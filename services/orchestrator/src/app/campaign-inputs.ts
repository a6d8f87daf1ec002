import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { Constitution, DomainError, RecipeDocument, sha256Hex, type CampaignConfig } from '@aevo/contracts';
import { MANIFEST_FILE, validateSubstrate } from '@aevo/substrate-kit';
import { inputRootsFromEnv, type InputRoots } from '../config';

/** What StartCampaign needs from files, read once at the edge so the decision stays pure. */
export interface CampaignInputs {
  constitution: Constitution;
  /** sha256 of the constitution file's bytes. */
  constitutionSha256: string;
  /** The substrate's recipe (its `recipe` file), the standing recipe of round 1. */
  standingRecipe: RecipeDocument;
}

export interface CampaignInputsLoader {
  load(config: CampaignConfig): Promise<CampaignInputs>;
}

/** Largest constitution or substrate.yaml read (both are small documents; a bigger file is refused unread). */
export const MAX_INPUT_FILE_BYTES = 1024 * 1024;
export const INPUT_READ_TIMEOUT_MS = 5000;

type Field = 'payload.constitutionPath' | 'payload.substratePath';
const refuse = (code: string, field: Field, message: string): DomainError =>
  new DomainError(code, `${field}: ${message}`, [{ path: field, message }]);

/**
 * Reads inputs from the file system, only under the configured roots. Every refusal names the field and never
 * the file's content; a path outside the roots is refused before the file system is touched, so the answer is
 * the same whether or not it exists.
 */
export class FileCampaignInputs implements CampaignInputsLoader {
  private readonly roots: InputRoots;
  private realRoots: Promise<{ constitution: string[]; substrate: string[] }> | null = null;

  /** `roots`: an InputRoots, or (tests) a list of directories that serve as both the bases and the roots. */
  constructor(roots: InputRoots | string[] = inputRootsFromEnv()) {
    this.roots = Array.isArray(roots) ? { bases: roots, constitutionRoots: roots, substrateRoots: roots } : roots;
  }

  async load(config: CampaignConfig): Promise<CampaignInputs> {
    const issues: Array<{ path: string; message: string }> = [];
    let constitution: { constitution: Constitution; sha256: string } | null = null;
    let standingRecipe: RecipeDocument | null = null;
    const collect = (err: unknown) => {
      if (!(err instanceof DomainError)) throw err;
      issues.push(...err.issues);
    };
    try {
      const file = await this.resolve(config.constitutionPath, 'payload.constitutionPath');
      constitution = parseConstitution(await this.readSmallFile(file, 'payload.constitutionPath'));
    } catch (err) {
      collect(err);
    }
    try {
      const dir = await this.resolve(config.substratePath, 'payload.substratePath');
      await this.checkSubstrateManifest(dir);
      standingRecipe = readRecipe(dir);
    } catch (err) {
      collect(err);
    }
    if (issues.length > 0 || !constitution || !standingRecipe)
      throw new DomainError(
        'INVALID_CAMPAIGN_INPUTS',
        `StartCampaign ${config.campaignId}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
        issues,
      );
    return { constitution: constitution.constitution, constitutionSha256: constitution.sha256, standingRecipe };
  }

  private async resolve(p: string, field: Field): Promise<string> {
    const real = await this.rootsResolved();
    const roots =
      field === 'payload.constitutionPath'
        ? this.roots.constitutionRoots.map((r) => path.resolve(r))
        : this.roots.substrateRoots.map((r) => path.resolve(r));
    const realRoots = field === 'payload.constitutionPath' ? real.constitution : real.substrate;
    const which =
      field === 'payload.constitutionPath'
        ? 'constitution roots (AEVO_CONSTITUTION_ROOTS)'
        : 'substrate roots (AEVO_SUBSTRATE_ROOTS)';
    // A relative path: under the bases, then under the roots themselves.
    const candidates = p.includes('\0')
      ? []
      : path.isAbsolute(p)
        ? [path.resolve(p)]
        : [...this.roots.bases, ...roots].map((b) => path.resolve(b, p));
    // Lexical check first: nothing outside the roots is even stat'ed.
    const inside = candidates.filter((c) => roots.some((r) => within(r, c)) || realRoots.some((r) => within(r, c)));
    if (inside.length === 0) throw refuse('INPUT_OUTSIDE_ROOTS', field, `must lie under the configured ${which}`);
    for (const c of inside) {
      let resolved: string;
      try {
        resolved = await fs.promises.realpath(c);
      } catch {
        continue;
      }
      // A symlink out of the roots is as good as absent.
      if (realRoots.some((r) => within(r, resolved))) return resolved;
    }
    throw refuse(
      'INPUT_NOT_FOUND',
      field,
      `no such ${field === 'payload.constitutionPath' ? 'file' : 'directory'} under the configured ${which}`,
    );
  }

  private rootsResolved(): Promise<{ constitution: string[]; substrate: string[] }> {
    const realAll = async (dirs: string[]) =>
      (await Promise.all(dirs.map((d) => fs.promises.realpath(d).catch(() => null)))).filter(
        (d): d is string => d !== null,
      );
    this.realRoots ??= (async () => ({
      constitution: await realAll(this.roots.constitutionRoots),
      substrate: await realAll(this.roots.substrateRoots),
    }))();
    return this.realRoots;
  }

  /** substrate.yaml must be a regular file under the cap before the (synchronous) substrate validator reads it. */
  private async checkSubstrateManifest(dir: string): Promise<void> {
    const st = await fs.promises.stat(dir);
    if (!st.isDirectory()) throw refuse('SUBSTRATE_INVALID', 'payload.substratePath', 'not a directory');
    await this.readSmallFile(path.join(dir, MANIFEST_FILE), 'payload.substratePath', MANIFEST_FILE);
  }

  /**
   * Opens without following a final symlink and without blocking (a FIFO or device would otherwise hang a thread
   * or the caller), then reads only a regular file under the size cap, within the timeout.
   */
  private async readSmallFile(file: string, field: Field, label = 'the file'): Promise<Buffer> {
    return readSmallFile(file, field, {
      maxBytes: this.roots.maxFileBytes ?? MAX_INPUT_FILE_BYTES,
      timeoutMs: this.roots.readTimeoutMs ?? INPUT_READ_TIMEOUT_MS,
      label,
    });
  }
}

const within = (root: string, p: string): boolean => {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/** See FileCampaignInputs.readSmallFile. Exported for the tests. */
export async function readSmallFile(
  file: string,
  field: Field,
  opts: { maxBytes: number; timeoutMs: number; label?: string },
): Promise<Buffer> {
  const label = opts.label ?? 'the file';
  let handle: fs.promises.FileHandle | undefined;
  const work = (async () => {
    try {
      handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw refuse('INPUT_NOT_FOUND', field, `${label} does not exist`);
      if (code === 'ELOOP') throw refuse('INPUT_NOT_REGULAR_FILE', field, `${label} is a symbolic link`);
      throw refuse('INPUT_UNREADABLE', field, `cannot open ${label} (${code ?? 'error'})`);
    }
    const st = await handle.stat();
    if (!st.isFile()) throw refuse('INPUT_NOT_REGULAR_FILE', field, `${label} is not a regular file`);
    if (st.size > opts.maxBytes)
      throw refuse('INPUT_TOO_LARGE', field, `${label} is larger than ${opts.maxBytes} bytes`);
    const buf = Buffer.alloc(opts.maxBytes + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      // Grew while being read.
      if (n > opts.maxBytes) throw refuse('INPUT_TOO_LARGE', field, `${label} is larger than ${opts.maxBytes} bytes`);
    }
    return buf.subarray(0, n);
  })();
  try {
    return await withTimeout(work, opts.timeoutMs, () =>
      refuse('INPUT_READ_TIMEOUT', field, `reading ${label} took longer than ${opts.timeoutMs} ms`),
    );
  } finally {
    // Closed once the read settles, also after a timeout.
    void work.catch(() => undefined).finally(() => void handle?.close().catch(() => undefined));
  }
}

/** `work`, or the error `onTimeout` makes once `ms` have passed first. */
export async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a constitution from disk (tests, tools): see parseConstitution. */
export function readConstitution(file: string): { constitution: Constitution; sha256: string } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw refuse(
      'CONSTITUTION_UNREADABLE',
      'payload.constitutionPath',
      `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return parseConstitution(bytes);
}

/**
 * The sha256 of the exact bytes and the YAML validated against the Constitution schema. Refusals name schema
 * paths and rules only: no YAML snippet, no value and no unknown key from the file (it may not be a constitution).
 */
export function parseConstitution(bytes: Buffer): { constitution: Constitution; sha256: string } {
  let doc: unknown;
  try {
    doc = YAML.parse(bytes.toString('utf8'));
  } catch (err) {
    const pos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    throw refuse(
      'INVALID_CONSTITUTION',
      'payload.constitutionPath',
      `not YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`,
    );
  }
  const parsed = Constitution.safeParse(doc);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((i) => {
      const at = i.path.map(String).join('.') || '(root)';
      return {
        path: 'payload.constitutionPath',
        message: `${at}: ${i.code === 'unrecognized_keys' ? `${i.keys.length} unknown key(s)` : i.message}`,
      };
    });
    throw new DomainError('INVALID_CONSTITUTION', 'payload.constitutionPath: not a valid constitution', issues);
  }
  return { constitution: parsed.data, sha256: sha256Hex(bytes) };
}

/** Validates the substrate against its contract and reads its recipe. */
export function readRecipe(dir: string): RecipeDocument {
  const result = validateSubstrate(dir);
  if (!result.ok)
    throw new DomainError(
      'SUBSTRATE_INVALID',
      `substrate ${dir} is invalid`,
      result.issues.map((i) => ({ path: 'payload.substratePath', message: `${i.path}: ${i.message}` })),
    );
  const recipe = RecipeDocument.safeParse(result.substrate.recipe);
  if (!recipe.success)
    throw new DomainError('SUBSTRATE_INVALID', `recipe of ${dir} is not a JSON-like mapping`, [
      { path: 'payload.substratePath', message: `recipe: ${recipe.error.issues[0]?.message}` },
    ]);
  return recipe.data;
}
