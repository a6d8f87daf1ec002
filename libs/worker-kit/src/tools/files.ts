import { RecipeChanged, sha256Hex } from '@aevo/contracts';
import { matchingDeadEnd } from '../dead-ends';
import { applyToYaml, diffRecipe, parseRecipeYaml } from '../recipe-doc';
import type { OpenOutput, WriteOutput } from '../summary';
import { unifiedDiff } from '../unified-diff';
import type { ToolHost } from './host';
import { fail, okOut, type StepOutcome } from './outcome';

/**
 * Opens the sandbox for the agent: every editable file (up to 512 KiB in all, one event), with the policy's
 * standing recipe adopted into the fork's recipe file.
 */
export function openSandbox(host: ToolHost, mutationSeed: number): StepOutcome {
  const recipePath = host.substrate.recipe;
  const listing = host.files.list('.', 2000);
  const files: Record<string, string> = {};
  let total = 0;
  for (const f of listing.files) {
    if (!f.editable || f.symlink) continue;
    total += f.bytes;
    // The outcome is one event (< 900 KiB); a pipeline that large is not a recipe anyway.
    if (total > 512 * 1024) break;
    files[f.path] = host.files.readWhole(f.path);
  }
  if (files[recipePath] === undefined)
    return fail('INVALID_SANDBOX', `recipe ${recipePath} is missing or not editable`, { failure: 'invalid-output' });
  // The fork is the substrate snapshot; the policy's standing recipe is what every candidate inherits.
  const standing = host.inputs.policy.standingRecipe;
  let adopted: ReturnType<typeof diffRecipe> = [];
  if (Object.keys(standing).length > 0) {
    const forkRecipe = parseRecipeYaml(files[recipePath], recipePath);
    adopted = diffRecipe(forkRecipe, standing).filter((c) => c.to !== null || standing[c.path] === null);
    if (adopted.length > 0) {
      const content = applyToYaml(files[recipePath], adopted);
      host.files.write(recipePath, content);
      files[recipePath] = content;
    }
  }
  const out: OpenOutput = {
    recipePath,
    files,
    adopted,
    mutationSeed,
    substrate: { name: host.substrate.name, version: host.substrate.version },
  };
  return okOut(out);
}

function recipeWarnings(
  host: ToolHost,
  before: string,
  after: string,
): { changes: ReturnType<typeof diffRecipe>; warnings: string[] } {
  const changes = diffRecipe(parseRecipeYaml(before), parseRecipeYaml(after));
  const warnings: string[] = [];
  for (const c of changes) {
    const d = matchingDeadEnd(c, host.inputs.policy.deadEnds);
    if (d) warnings.push(`${c.path}: matches dead end "${d.description}" (round ${d.round})`);
  }
  if (host.inputs.fork.isAnchor && changes.length > 0)
    warnings.push('this candidate is the baseline anchor: it must run the standing recipe unchanged');
  return { changes, warnings };
}

/** write_file: an editable file replaced; a recipe must parse, and its changes are recorded as RecipeChanged. */
export function writeFile(host: ToolHost, path: string, content: string): StepOutcome {
  const rel = host.files.normalise(path);
  const s = host.summary();
  const isRecipe = rel === host.substrate.recipe;
  if (isRecipe) {
    try {
      parseRecipeYaml(content, rel);
    } catch (err) {
      return fail('INVALID_RECIPE', (err as Error).message);
    }
  }
  const before = s.current.get(rel) ?? null;
  const w = host.files.write(rel, content);
  const out: WriteOutput = { path: w.path, bytes: w.bytes, sha256: sha256Hex(content), content };
  let changes: WriteOutput['changes'] = [];
  if (isRecipe && before !== null) {
    const r = recipeWarnings(host, before, content);
    changes = r.changes;
    out.changes = r.changes;
    out.warnings = r.warnings;
  }
  return okOut(out, [
    {
      type: RecipeChanged.type,
      data: { candidateId: host.candidateId, file: w.path, changes, diff: unifiedDiff(w.path, before, content) },
    },
  ]);
}

/** set_recipe: settings changed by dotted path, comments and key order of the recipe file kept. */
export function setRecipe(host: ToolHost, settings: Array<{ path: string; value: unknown }>): StepOutcome {
  const before = host.currentRecipe();
  let after: string;
  try {
    after = applyToYaml(
      before,
      settings.map((s) => ({ path: s.path, to: s.value })),
    );
    parseRecipeYaml(after);
  } catch (err) {
    return fail('INVALID_RECIPE', (err as Error).message);
  }
  return writeFile(host, host.substrate.recipe, after);
}
