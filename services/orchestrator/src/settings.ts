/** The orchestrator's own settings (the messaging ones are read by @aevo/messaging). */
export interface OrchestratorSettings {
  /** Period of the safety-net pass over live campaigns; 0 turns it off. */
  tickMs: number;
  /** How often a pending final audit's unseal is resent. */
  unsealRetryMs: number;
}

/** Reads AEVO_ORCHESTRATOR_TICK_MS (default 5000) and AEVO_ORCHESTRATOR_UNSEAL_RETRY_MS (default 30000); a bad value names itself. */
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
