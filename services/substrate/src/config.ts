import * as path from 'node:path';
import { DEFAULT_GC_POLICY, type GcPolicy } from './domain/substrate';

export interface SubstrateConfig {
  /** Root of snapshots and sandboxes (`<home>/snapshots`, `<home>/sandboxes`). Absolute. */
  home: string;
  gc: GcPolicy;
  /** Where relative `CampaignConfig.substratePath`s are resolved from (default: the process's cwd). */
  substrateRoot: string;
}

/**
 * AEVO_HOME, AEVO_SUBSTRATE_ROOT, AEVO_GC_KEEP_ROUNDS, AEVO_GC_KEEP_WINNERS, AEVO_GC_KEEP_INVALIDATED; every bad
 * value is named in one error.
 */
export function substrateConfigFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SubstrateConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      problems.push(`${name}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const bool = (name: string, fallback: boolean) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name}: expected true or false, got ${JSON.stringify(raw)}`);
    return fallback;
  };
  const config: SubstrateConfig = {
    home: path.resolve(cwd, env.AEVO_HOME || '.aevo'),
    substrateRoot: path.resolve(cwd, env.AEVO_SUBSTRATE_ROOT || '.'),
    gc: {
      keepLastRounds: int('AEVO_GC_KEEP_ROUNDS', DEFAULT_GC_POLICY.keepLastRounds, 1),
      keepWinners: bool('AEVO_GC_KEEP_WINNERS', DEFAULT_GC_POLICY.keepWinners),
      keepInvalidated: bool('AEVO_GC_KEEP_INVALIDATED', DEFAULT_GC_POLICY.keepInvalidated),
    },
  };
  if (problems.length > 0) throw new Error(`substrate service configuration: ${problems.join('; ')}`);
  return config;
}
