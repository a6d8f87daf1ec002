import {
  CandidateForked,
  contentHash,
  createEvent,
  FrozenPathViolated,
  JobFailed,
  JobRequested,
  JobSucceeded,
  LeaderboardScored,
  ManifestSubmitted,
  PolicyRevised,
  PrivateLeaderboardUnsealed,
  WorkerFailed,
  uuidv7,
  type EventEnvelope,
  type RollingPolicy,
} from '@aevo/contracts';

/**
 * An envelope whose data holds only the fields the orchestrator reads (not checked against the event's schema): for
 * the pure specs, never appended to a store.
 */
export function partialEnvelope(type: string, campaignId: string, data: object): EventEnvelope {
  return {
    id: uuidv7(),
    type,
    schemaVersion: 1,
    streamId: `partial-${campaignId}`,
    campaignId,
    causationId: null,
    correlationId: null,
    time: new Date().toISOString(),
    source: 'platform',
    data,
  };
}

/**
 * The other services' events, built through their schemas, as the orchestrator reads them: the inputs of its
 * decisions in the domain specs and of the integration tests (appended to the store in those services' streams).
 */
export function factsFor(campaignId: string) {
  const cid = (round: number, i: number) => `${campaignId}-r${round}-c${i}`;
  const sub = (round: number, i: number) => `sub-${cid(round, i)}`;
  const ctx = (source: 'substrate' | 'worker' | 'dispatch' | 'leaderboard' | 'meta-policy', streamId: string) => ({
    campaignId,
    streamId,
    source,
  });
  const terminal = (jobId: string, round: number) => ({
    jobId,
    candidateId: cid(round, 1),
    round,
    wallSeconds: 1,
    logTail: '',
    logPath: null,
    executor: 'local' as const,
    gpuCount: 0,
    budgetUnit: 'cpu-slot-seconds' as const,
  });
  return {
    cid,
    sub,
    forked: (round: number, i: number, policyRevision = round - 1): EventEnvelope =>
      createEvent(
        CandidateForked,
        {
          round,
          candidateId: cid(round, i),
          index: i,
          axis: i === 0 ? 'baseline' : 'learning-rate',
          isAnchor: i === 0,
          seeds: [i],
          snapshotId: 'b'.repeat(64),
          sandboxPath: `/sb/${cid(round, i)}`,
          policyRevision,
        },
        ctx('substrate', `substrate:${campaignId}`),
      ),
    manifest: (
      round: number,
      i: number,
      dev: number,
      opts: { status?: 'completed' | 'failed'; domains?: Record<string, number>; tokens?: number } = {},
    ): EventEnvelope => {
      const status = opts.status ?? 'completed';
      const scores = { overall: dev, domains: opts.domains ?? { gravity: dev } };
      return createEvent(
        ManifestSubmitted,
        {
          candidateId: cid(round, i),
          round,
          manifest: {
            campaignId,
            round,
            candidateId: cid(round, i),
            axis: i === 0 ? 'baseline' : 'learning-rate',
            isAnchor: i === 0,
            status,
            hypothesis: 'h',
            recipeChanges: [],
            recipeDiff: '',
            filesChanged: [],
            seeds: [i],
            checkpoints: [],
            chosenCheckpoint:
              status === 'completed'
                ? { checkpoint: `runs/s${i}/step-000008`, seed: i, criterion: 'mean', reason: 'best', dev: scores }
                : null,
            failureModes: [],
            cost: { gpuSeconds: 1, inputTokens: opts.tokens ?? 0, outputTokens: 0, toolCalls: 1, jobs: 1 },
            traceLength: 1,
          },
        },
        ctx('worker', `candidate-${cid(round, i)}`),
      );
    },
    workerFailed: (round: number, i: number) =>
      createEvent(
        WorkerFailed,
        { candidateId: cid(round, i), round, reason: 'gave up', step: 3 },
        ctx('worker', `candidate-${cid(round, i)}`),
      ),
    violated: (round: number, i: number) =>
      createEvent(
        FrozenPathViolated,
        {
          round,
          candidateId: cid(round, i),
          path: 'harness/eval.py',
          kind: 'frozen-modified',
          detail: 'changed',
          checkedAt: 'round-close',
        },
        ctx('substrate', `substrate:${campaignId}`),
      ),
    policyRevised: (round: number, policy: RollingPolicy, tokens = 0) =>
      createEvent(
        PolicyRevised,
        {
          round,
          policy,
          policySha256: contentHash(policy),
          previousRevision: Math.max(0, policy.revision - 1),
          evidenceSha256: 'e'.repeat(64),
          constitutionSha256: 'a'.repeat(64),
          proposer: 'rules',
          changes: [],
          llm:
            tokens > 0
              ? {
                  model: 'm',
                  inputTokens: tokens,
                  outputTokens: 0,
                  cacheReadTokens: 0,
                  stopReason: 'tool_use',
                  proposal: {},
                  refused: false,
                }
              : null,
        },
        ctx('meta-policy', `meta-policy-${campaignId}-r${round}`),
      ),
    /** Only the fields the orchestrator reads (the collector's full record is not needed to close a round). */
    evidence: (round: number): EventEnvelope =>
      partialEnvelope('RoundEvidenceRecorded', campaignId, {
        round,
        evidenceSha256: 'f'.repeat(64),
        llm: null,
      }),
    scored: (round: number, i: number, publicScore: number) =>
      createEvent(
        LeaderboardScored,
        { submissionId: sub(round, i), candidateId: cid(round, i), round, publicScore, publicDomains: null },
        ctx('leaderboard', `leaderboard:${campaignId}`),
      ),
    jobRequested: (jobId: string, round: number) =>
      createEvent(
        JobRequested,
        {
          spec: {
            jobId,
            candidateId: cid(round, 1),
            round,
            entrypoint: 'train',
            sandboxPath: `/sb/${cid(round, 1)}`,
            argv: ['node', 'train.js'],
            env: {},
            resources: { cpu: 1, memoryMiB: 256, gpu: 0 },
            timeoutSeconds: 60,
            priority: 'normal',
            isolation: { snapshotId: 'a'.repeat(64), outputs: ['runs/r1/ckpt'], inputs: [] },
          },
        },
        ctx('worker', `candidate-${cid(round, 1)}`),
      ),
    jobDone: (jobId: string, gpuSeconds: number, round = 1) =>
      createEvent(
        JobSucceeded,
        { ...terminal(jobId, round), gpuSeconds, exitCode: 0 },
        ctx('dispatch', `job:${jobId}`),
      ),
    jobFailed: (jobId: string, gpuSeconds: number, round = 1) =>
      createEvent(
        JobFailed,
        { ...terminal(jobId, round), gpuSeconds, exitCode: 1, reason: 'exit-code', message: 'boom' },
        ctx('dispatch', `job:${jobId}`),
      ),
    unsealed: (scores: Array<{ round: number; i: number; pub: number; priv: number }>) =>
      createEvent(
        PrivateLeaderboardUnsealed,
        {
          scores: scores.map((s) => ({
            submissionId: sub(s.round, s.i),
            candidateId: cid(s.round, s.i),
            round: s.round,
            publicScore: s.pub,
            privateScore: s.priv,
            privateDomains: null,
          })),
        },
        ctx('leaderboard', `leaderboard:${campaignId}`),
      ),
  };
}
