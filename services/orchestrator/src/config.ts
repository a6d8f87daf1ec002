import * as path from 'node:path';

/** The orchestrator's own settings (the messaging ones are read by @aevo/messaging). */
export interface OrchestratorSettings {
  /** Period of the safety-net pass over live campaigns; 0 turns it off. */
  tickMs: number;
  /** How often a pending final audit's unseal is resent. */
  unsealRetryMs: number;
}

/**
 * Reads AEVO_ORCHESTRATOR_TICK_MS (default 5000) and AEVO_ORCHESTRATOR_UNSEAL_RETRY_MS (default 30000); a bad value
 * names itself.
 */
export function orchestratorSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): OrchestratorSettings {
  const int = (name: string, dflt: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`${name}: expected an integer >= 0 (milliseconds), got ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    tickMs: int('AEVO_ORCHESTRATOR_TICK_MS', 5000),
    unsealRetryMs: int('AEVO_ORCHESTRATOR_UNSEAL_RETRY_MS', 30_000),
  };
}

/** This package's directory, from src/ or dist/. */
export const ORCHESTRATOR_ROOT = path.resolve(__dirname, '..');
/** The repository. */
export const REPO_ROOT = path.resolve(ORCHESTRATOR_ROOT, '..', '..');
/** The repository's deploy/ directory: `constitutions/default.yaml` under it is the one canonical default. */
export const DEPLOY_ROOT = path.join(REPO_ROOT, 'deploy');
/** Where StartCampaign may read from. A path is looked up under `bases` but used only when it lies under a root. */
export interface InputRoots {
  /** Where relative paths are looked up, in order. */
  bases: string[];
  /** Directories a constitution file must lie under (after resolving symlinks). */
  constitutionRoots: string[];
  /** Directories a substrate directory must lie under (after resolving symlinks). */
  substrateRoots: string[];
  maxFileBytes?: number;
  readTimeoutMs?: number;
}

const list = (raw: string | undefined, cwd: string): string[] | null =>
  raw === undefined || raw.trim() === ''
    ? null
    : raw
        .split(path.delimiter)
        .filter((x) => x !== '')
        .map((r) => path.resolve(cwd, r));

/**
 * AEVO_CONSTITUTION_ROOTS / AEVO_SUBSTRATE_ROOTS (path-delimiter lists) replace the default roots: the repository's
 * `deploy/constitutions/` and `substrate/`, plus AEVO_CONSTITUTIONS_ROOT / AEVO_SUBSTRATE_ROOT where set (the
 * directories the other services already resolve these paths under). Relative paths are looked up under AEVO_ROOT
 * (or the working directory), those directories, deploy/ and the repository.
 */
export function inputRootsFromEnv(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): InputRoots {
  const one = (v: string | undefined) => (v ? [path.resolve(cwd, v)] : []);
  const constitutionRoots = list(env.AEVO_CONSTITUTION_ROOTS, cwd) ?? [
    path.join(DEPLOY_ROOT, 'constitutions'),
    ...one(env.AEVO_CONSTITUTIONS_ROOT),
  ];
  const substrateRoots = list(env.AEVO_SUBSTRATE_ROOTS, cwd) ?? [
    path.join(REPO_ROOT, 'substrate'),
    ...one(env.AEVO_SUBSTRATE_ROOT),
  ];
  const bases = [
    path.resolve(cwd, env.AEVO_ROOT || '.'),
    ...one(env.AEVO_CONSTITUTIONS_ROOT),
    ...one(env.AEVO_SUBSTRATE_ROOT),
    DEPLOY_ROOT,
    REPO_ROOT,
  ];
  return { bases: [...new Set(bases)], constitutionRoots, substrateRoots };
}
