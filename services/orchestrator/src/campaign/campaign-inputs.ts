import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { Constitution, DomainError, RecipeDocument, sha256Hex, zodIssues, type CampaignConfig } from '@aevo/contracts';
import { validateSubstrate } from '@aevo/substrate-kit';

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

/** This package's directory, from src/ or dist/. */
export const ORCHESTRATOR_ROOT = path.resolve(__dirname, '..', '..');
/** The repository's deploy/ directory: `constitutions/default.yaml` under it is the one canonical default. */
export const DEPLOY_ROOT = path.resolve(ORCHESTRATOR_ROOT, '..', '..', 'deploy');

/**
 * Reads inputs from the file system. A relative path is looked up under each root in turn (default: AEVO_ROOT or
 * the working directory, then deploy/, so `constitutions/default.yaml` names the canonical default).
 */
export class FileCampaignInputs implements CampaignInputsLoader {
  constructor(private readonly roots: string[] = [process.env.AEVO_ROOT ?? process.cwd(), DEPLOY_ROOT]) {}

  async load(config: CampaignConfig): Promise<CampaignInputs> {
    const issues: Array<{ path: string; message: string }> = [];
    let constitution: { constitution: Constitution; sha256: string } | null = null;
    let standingRecipe: RecipeDocument | null = null;
    try {
      constitution = readConstitution(this.resolve(config.constitutionPath));
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      issues.push(...err.issues);
    }
    try {
      standingRecipe = readRecipe(this.resolve(config.substratePath));
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      issues.push(...err.issues);
    }
    if (issues.length > 0 || !constitution || !standingRecipe)
      throw new DomainError('INVALID_CAMPAIGN_INPUTS', `StartCampaign ${config.campaignId}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    return { constitution: constitution.constitution, constitutionSha256: constitution.sha256, standingRecipe };
  }

  private resolve(p: string): string {
    if (path.isAbsolute(p)) return p;
    for (const root of this.roots) {
      const candidate = path.resolve(root, p);
      if (fs.existsSync(candidate)) return candidate;
    }
    return path.resolve(this.roots[0], p);
  }
}

/** Reads a constitution: the sha256 of its exact bytes, and the YAML validated against the Constitution schema. */
export function readConstitution(file: string): { constitution: Constitution; sha256: string } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new DomainError('CONSTITUTION_UNREADABLE', `cannot read ${file}`, [{ path: 'payload.constitutionPath', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new DomainError('INVALID_CONSTITUTION', `${file} is not YAML`, [{ path: 'payload.constitutionPath', message: `not YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const parsed = Constitution.safeParse(doc);
  if (!parsed.success)
    throw new DomainError(
      'INVALID_CONSTITUTION',
      `${file} is not a valid constitution`,
      zodIssues(parsed.error).map((i) => ({ path: 'payload.constitutionPath', message: `${i.path}: ${i.message}` })),
    );
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
    throw new DomainError('SUBSTRATE_INVALID', `recipe of ${dir} is not a JSON-like mapping`, [{ path: 'payload.substratePath', message: `recipe: ${recipe.error.issues[0]?.message}` }]);
  return recipe.data;
}
