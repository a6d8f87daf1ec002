import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { DomainError, EntrypointName, SubstrateManifest, type IssueDetail } from '@aevo/contracts';
import { GlobSet, globProblems, globsOverlap } from './glob';
import {
  KNOWN_PLACEHOLDERS,
  LEADERBOARD_ONLY_PLACEHOLDERS,
  PlaceholderSyntaxError,
  placeholdersIn,
} from './placeholders';
import { normaliseWithin, symlinkTargetWithin, walkTree, type TreeEntry } from './tree';

export const MANIFEST_FILE = 'substrate.yaml';

/** Left out of every snapshot whatever the substrate says: caches that tools write next to sources. */
export const ALWAYS_IGNORED: readonly string[] = ['**/__pycache__/**', '**/*.pyc', '**/.pytest_cache/**', '.git/**'];

/** How a snapshot file is treated in a sandbox. `protected` = in neither list: shared and verified like frozen. */
export type FileClass = 'editable' | 'frozen' | 'protected';

export interface SubstrateRules {
  editable: GlobSet;
  frozen: GlobSet;
  ignore: GlobSet;
}

export function rulesOf(manifest: Pick<SubstrateManifest, 'editable' | 'frozen' | 'ignore'>): SubstrateRules {
  return {
    editable: new GlobSet(manifest.editable),
    frozen: new GlobSet(manifest.frozen),
    ignore: new GlobSet([...ALWAYS_IGNORED, ...(manifest.ignore ?? [])]),
  };
}

/** Frozen wins over editable (a valid manifest has no overlap, so this only matters for hand-made rules). */
export function classifyPath(rules: SubstrateRules, rel: string): FileClass {
  if (rules.frozen.matches(rel)) return 'frozen';
  if (rules.editable.matches(rel)) return 'editable';
  return 'protected';
}

export interface LoadedSubstrate {
  /** Absolute, symlink-resolved directory. */
  dir: string;
  manifestPath: string;
  manifest: SubstrateManifest;
  rules: SubstrateRules;
  /** Every non-ignored entry (files, symlinks, directories), canonical order. */
  entries: TreeEntry[];
  /** Regular files and symlinks by class (relative POSIX paths). */
  editableFiles: string[];
  frozenFiles: string[];
  protectedFiles: string[];
  /** The recipe as parsed from `manifest.recipe`. */
  recipe: Record<string, unknown>;
  /** Files making up the base checkpoint (one file, or every file of a checkpoint directory). */
  baseCheckpointFiles: string[];
}

/** A substrate that does not honour the contract; `issues` lists every problem with its field path. */
export class SubstrateInvalid extends DomainError {
  constructor(
    public readonly dir: string,
    issues: IssueDetail[],
  ) {
    super(
      'SUBSTRATE_INVALID',
      `substrate at ${dir} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'),
      issues,
    );
    this.name = 'SubstrateInvalid';
  }
}

/** Validates `dir` against the substrate contract; throws SubstrateInvalid listing every problem. */
export function loadSubstrate(dir: string): LoadedSubstrate {
  const result = validateSubstrate(dir);
  if (!result.ok) throw new SubstrateInvalid(path.resolve(dir), result.issues);
  return result.substrate;
}

export type ValidationResult = { ok: true; substrate: LoadedSubstrate } | { ok: false; issues: IssueDetail[] };

export function validateSubstrate(dirArg: string): ValidationResult {
  const issues: IssueDetail[] = [];
  const add = (p: string, message: string) => issues.push({ path: p, message });

  let dir: string;
  try {
    dir = fs.realpathSync(path.resolve(dirArg));
    if (!fs.statSync(dir).isDirectory())
      return { ok: false, issues: [{ path: '(dir)', message: `${dirArg} is not a directory` }] };
  } catch {
    return { ok: false, issues: [{ path: '(dir)', message: `${dirArg} does not exist` }] };
  }
  const manifestPath = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(manifestPath))
    return { ok: false, issues: [{ path: MANIFEST_FILE, message: `no ${MANIFEST_FILE} in ${dir}` }] };

  const doc = parseDocument(fs.readFileSync(manifestPath, 'utf8'), { uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors)
      add(
        '(yaml)',
        `${MANIFEST_FILE} line ${e.linePos?.[0]?.line ?? '?'}: ` +
          `${e.message.split('\n')[0].replace(/ at line \d+, column \d+:$/, '')}`,
      );
    return { ok: false, issues };
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, issues: [{ path: '(root)', message: `${MANIFEST_FILE} must be a YAML mapping` }] };
  const obj = raw as Record<string, unknown>;

  const parsed = SubstrateManifest.safeParse(raw);
  if (!parsed.success) issues.push(...manifestIssues(parsed.error));

  // Semantic checks run on whatever parts are well-formed, so one run reports every problem.
  const editable = stringList(obj.editable);
  const frozen = stringList(obj.frozen);
  const ignore = stringList(obj.ignore);
  const globsOk = (field: string, list: string[]) => {
    let ok = true;
    list.forEach((g, i) => {
      for (const problem of globProblems(g)) {
        add(`${field}.${i}`, `glob ${JSON.stringify(g)}: ${problem}`);
        ok = false;
      }
    });
    return ok;
  };
  const editableOk = globsOk('editable', editable);
  const frozenOk = globsOk('frozen', frozen);
  const ignoreOk = globsOk('ignore', ignore);
  const rules: SubstrateRules | null =
    editableOk && frozenOk && ignoreOk ? rulesOf({ editable, frozen, ignore }) : null;

  const entries = walkTree(dir, (rel) =>
    (rules ?? rulesOf({ editable: [], frozen: [], ignore: [] })).ignore.matches(rel),
  );
  const fileLike = entries.filter((e) => e.type === 'file' || e.type === 'symlink');
  const byPath = new Map(entries.map((e) => [e.path, e]));

  // editable ∩ frozen: exact static check of every pattern pair, with example files from the tree.
  if (editableOk && frozenOk) {
    frozen.forEach((f, j) => {
      editable.forEach((e, i) => {
        if (!globsOverlap(e, f)) return;
        const examples = fileLike.filter(
          (x) => rules!.editable.matching(x.path).includes(e) && rules!.frozen.matching(x.path).includes(f),
        );
        const eg =
          examples.length > 0
            ? `; both match ${examples
                .slice(0, 3)
                .map((x) => x.path)
                .join(', ')}`
            : '';
        add(
          `frozen.${j}`,
          `frozen glob ${JSON.stringify(f)} overlaps editable glob ${JSON.stringify(e)} (editable.${i}): ` +
            `a path cannot be both${eg}`,
        );
      });
    });
  }

  for (const e of entries) {
    if (e.type === 'symlink' && symlinkTargetWithin(e.path, e.linkTarget!) === null)
      add(`files.${e.path}`, `symlink points outside the substrate (${e.linkTarget})`);
    if (e.type === 'other') add(`files.${e.path}`, 'not a regular file, directory or symlink');
  }

  // Recipe: exists, is a YAML mapping, and is editable (the standing recipe is applied to it in every sandbox).
  let recipe: Record<string, unknown> = {};
  const recipeRel = typeof obj.recipe === 'string' ? relPathField('recipe', obj.recipe, add) : null;
  if (recipeRel !== null) {
    const entry = byPath.get(recipeRel);
    if (!entry)
      add(
        'recipe',
        `recipe file ${JSON.stringify(recipeRel)} does not exist` +
          `${rules?.ignore.matches(recipeRel) ? ' (it is ignored)' : ''}`,
      );
    else if (entry.type !== 'file') add('recipe', `recipe ${JSON.stringify(recipeRel)} is not a regular file`);
    else {
      const rdoc = parseDocument(fs.readFileSync(path.join(dir, recipeRel), 'utf8'), { uniqueKeys: true });
      const value: unknown = rdoc.errors.length === 0 ? rdoc.toJS() : undefined;
      if (rdoc.errors.length > 0)
        add('recipe', `recipe ${recipeRel} is not valid YAML: ${rdoc.errors[0].message.split('\n')[0]}`);
      else if (value === null || typeof value !== 'object' || Array.isArray(value))
        add('recipe', `recipe ${recipeRel} must be a YAML mapping`);
      else recipe = value as Record<string, unknown>;
    }
    if (rules) {
      if (!rules.editable.matches(recipeRel))
        add('recipe', `recipe ${JSON.stringify(recipeRel)} is not matched by any editable glob`);
      if (rules.frozen.matches(recipeRel))
        add(
          'recipe',
          `recipe ${JSON.stringify(recipeRel)} is frozen (by ${rules.frozen.matching(recipeRel).join(', ')})`,
        );
    }
  }

  // Base checkpoint: exists (file, or directory of files) and every file of it is frozen.
  let baseCheckpointFiles: string[] = [];
  const baseRel =
    typeof obj.baseCheckpoint === 'string' ? relPathField('baseCheckpoint', obj.baseCheckpoint, add) : null;
  if (baseRel !== null) {
    const entry = byPath.get(baseRel);
    if (!entry)
      add(
        'baseCheckpoint',
        `base checkpoint ${JSON.stringify(baseRel)} does not exist` +
          `${rules?.ignore.matches(baseRel) ? ' (it is ignored)' : ''}`,
      );
    else if (entry.type === 'file') baseCheckpointFiles = [baseRel];
    else if (entry.type === 'dir') {
      baseCheckpointFiles = fileLike.filter((x) => x.path.startsWith(`${baseRel}/`)).map((x) => x.path);
      if (baseCheckpointFiles.length === 0)
        add('baseCheckpoint', `base checkpoint directory ${JSON.stringify(baseRel)} is empty`);
    } else add('baseCheckpoint', `base checkpoint ${JSON.stringify(baseRel)} must be a regular file or a directory`);
    if (rules) {
      const notFrozen = baseCheckpointFiles.filter((f) => !rules.frozen.matches(f));
      if (notFrozen.length > 0)
        add(
          'baseCheckpoint',
          `base checkpoint is not frozen: ${notFrozen.slice(0, 3).join(', ')} match no frozen glob`,
        );
    }
  }

  // Entrypoints: known placeholders only; the secret seed only outside sandboxes; the evaluator frozen.
  const eps = isRecord(obj.entrypoints) ? obj.entrypoints : {};
  for (const name of EntrypointName.options) {
    const ep = eps[name];
    if (!isRecord(ep)) continue;
    const cmd = stringList(ep.command);
    checkCommand(`entrypoints.${name}.command`, cmd, false, add);
    if (name === 'evaluate' && rules) {
      cmd.forEach((arg, i) => {
        const rel = normaliseWithin(arg);
        if (rel && byPath.get(rel)?.type === 'file' && !rules.frozen.matches(rel))
          add(
            `entrypoints.evaluate.command.${i}`,
            `${JSON.stringify(rel)} runs the evaluation but is not frozen; the harness must be frozen`,
          );
      });
    }
  }
  if (isRecord(obj.leaderboard)) {
    checkCommand('leaderboard.generate', stringList(obj.leaderboard.generate), true, add);
    checkCommand('leaderboard.score', stringList(obj.leaderboard.score), true, add);
  }
  if (isRecord(obj.outputs) && typeof obj.outputs.checkpointDir === 'string') {
    try {
      const unknown = placeholdersIn(obj.outputs.checkpointDir).filter((r) => r.name !== 'step');
      for (const r of unknown)
        add('outputs.checkpointDir', `unknown placeholder {${r.name}} (only {step} is available here)`);
    } catch (err) {
      add('outputs.checkpointDir', (err as Error).message);
    }
  }

  if (isRecord(obj.metric) && Array.isArray(obj.metric.domains)) {
    const seen = new Set<unknown>();
    obj.metric.domains.forEach((d, i) => {
      if (seen.has(d)) add(`metric.domains.${i}`, `duplicate domain ${JSON.stringify(d)}`);
      seen.add(d);
    });
  }

  if (issues.length > 0 || !parsed.success || !rules) return { ok: false, issues: dedupe(issues) };

  const editableFiles: string[] = [];
  const frozenFiles: string[] = [];
  const protectedFiles: string[] = [];
  for (const e of fileLike) {
    const c = classifyPath(rules, e.path);
    (c === 'editable' ? editableFiles : c === 'frozen' ? frozenFiles : protectedFiles).push(e.path);
  }
  return {
    ok: true,
    substrate: {
      dir,
      manifestPath,
      manifest: parsed.data,
      rules,
      entries,
      editableFiles,
      frozenFiles,
      protectedFiles,
      recipe,
      baseCheckpointFiles,
    },
  };
}

function checkCommand(field: string, argv: string[], leaderboard: boolean, add: (p: string, m: string) => void) {
  argv.forEach((arg, i) => {
    let refs;
    try {
      refs = placeholdersIn(arg);
    } catch (err) {
      if (err instanceof PlaceholderSyntaxError) {
        add(`${field}.${i}`, err.message);
        return;
      }
      throw err;
    }
    for (const r of refs) {
      if (!KNOWN_PLACEHOLDERS.includes(r.name))
        add(
          `${field}.${i}`,
          `unknown placeholder {${r.name}}; known: ${KNOWN_PLACEHOLDERS.map((k) => `{${k}}`).join(' ')}`,
        );
      else if (!leaderboard && LEADERBOARD_ONLY_PLACEHOLDERS.includes(r.name))
        add(`${field}.${i}`, `{${r.name}} is only given to leaderboard commands; it must never reach a sandbox`);
    }
  });
}

function relPathField(field: string, value: string, add: (p: string, m: string) => void): string | null {
  const rel = normaliseWithin(value);
  if (rel === null || rel === '') {
    add(field, `expected a path inside the substrate, got ${JSON.stringify(value)}`);
    return null;
  }
  return rel;
}

/** zod issues with one entry per unknown key (named by its full path) and clearer "missing" messages. */
function manifestIssues(error: z.ZodError): IssueDetail[] {
  const out: IssueDetail[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: base ? `${base}.${key}` : key, message: `unknown field ${JSON.stringify(key)}` });
      continue;
    }
    const message = /received undefined/.test(issue.message)
      ? `missing required field (${issue.message})`
      : issue.message;
    out.push({ path: base || '(root)', message });
  }
  return out;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function dedupe(issues: IssueDetail[]): IssueDetail[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
