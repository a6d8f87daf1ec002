/**
 * The research designs of the rule engine, pure: which gains wait for a confirmation run, which confirmed gains
 * are promoted together, how a decoupling hypothesis moves from suspected to confirmed or refuted, what the
 * workers are told about move sizes, and the standing recipe's leaderboard replicates.
 */
export * from './research-confirmations';
export * from './research-hypotheses';
export * from './research-moves';
export * from './research-allocation';
