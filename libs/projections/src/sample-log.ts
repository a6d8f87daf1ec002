import {
  CampaignCompleted,
  CampaignStarted,
  CandidateForked,
  candidateIdOf,
  contentHash,
  createEvent,
  JobFailed,
  JobRequested,
  JobSucceeded,
  LeaderboardScored,
  ManifestSubmitted,
  MessageDeadLettered,
  PrivateLeaderboardUnsealed,
  RoundClosed,
  RoundStarted,
  seededRandom,
  SubmissionAccepted,
  SubmissionRequested,
  WorkerStarted,
  type Axis,
  type EventEnvelope,
  type EventDefinition,
  type ServiceName,
} from '@aevo/contracts';
import type { StoredEvent } from '@aevo/eventstore';
import { initialPolicy } from '@aevo/policy-engine';
import type { z } from 'zod';

export interface SampleLogOptions {
  campaignId?: string;
  /** Decides every score; two logs with the same seed describe the same campaign. */
  seed?: number;
  rounds?: number;
  candidatesPerRound?: number;
  /** Seeds the interleaving of concurrent streams (default: `seed`). Different values must not change hashes. */
  interleaveSeed?: number;
  /**
   * Adds what a disturbed run adds — worker restarts, a lost job retried under a new id, a dead letter — without
   * changing any outcome. Deterministic projections must hash the same with and without it.
   */
  disturbed?: boolean;
}

const AXES: Axis[] = ['learning-rate', 'data-mix', 'lora-capacity', 'schedule', 'filtering'];
const DOMAINS = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * A synthetic but schema-valid campaign log (every event through `createEvent`, so ids and times are fresh on each
 * call). For projection tests and replay benchmarks; it is not what the services emit in detail.
 */
export function sampleCampaignLog(opts: SampleLogOptions = {}): EventEnvelope[] {
  const campaignId = opts.campaignId ?? 'sample';
  const seed = opts.seed ?? 1;
  const rounds = opts.rounds ?? 2;
  const n = opts.candidatesPerRound ?? 4;
  const rnd = seededRandom(seed);
  const mix = seededRandom(opts.interleaveSeed ?? seed);
  const out: EventEnvelope[] = [];
  const ev = <D extends EventDefinition>(def: D, data: z.input<D['data']>, streamId: string, source: ServiceName) =>
    createEvent(def, data, { campaignId, streamId, source }) as EventEnvelope;
  const campaignStream = `campaign-${campaignId}`;

  // Revision 0 as the orchestrator records it, with every axis of the sample active at once.
  const policy = {
    ...initialPolicy({ standingRecipe: { lr: 0.001, steps: 200 }, axes: AXES, anchorSeeds: 2 }),
    activeAxes: AXES,
    rationale: 'sample',
  };
  out.push(
    ev(
      CampaignStarted,
      {
        config: {
          campaignId,
          substratePath: 'substrate/simulated',
          constitutionPath: 'constitutions/default.yaml',
          rounds,
          workersPerRound: n,
          axes: AXES,
          anchorSeeds: 2,
          seed,
          budgets: { gpuSeconds: 1e6, llmTokens: 0, submissionsPerRound: 2 },
        },
        constitutionSha256: contentHash('sample constitution'),
        constitution: {
          name: 'sample',
          version: '1',
          text: 'The leaderboard is authoritative.',
          rules: {
            leaderboardAuthoritative: true,
            plateauRoundsBeforeRotation: 2,
            deadEndRegistryOnlyGrows: true,
            promotionRequiresLbGain: true,
            minThresholdNoiseMultiple: 2,
            decouplingNoiseMultiple: 2,
          },
        },
        initialPolicy: policy,
      } as z.input<typeof CampaignStarted.data>,
      campaignStream,
      'orchestrator',
    ),
  );

  const allSubmissions: Array<{
    submissionId: string;
    candidateId: string;
    round: number;
    publicScore: number;
    privateScore: number;
  }> = [];
  let best: { candidateId: string; publicLb: number; privateLb: number } | null = null;
  for (let r = 1; r <= rounds; r++) {
    const candidates = Array.from({ length: n }, (_, i) => ({
      candidateId: candidateIdOf(campaignId, r, i),
      index: i,
      axis: i === 0 ? ('baseline' as const) : AXES[(i - 1) % AXES.length],
      isAnchor: i === 0,
      seeds: i === 0 ? [seed * 10 + r, seed * 10 + r + 1] : [seed * 10 + r + i],
    }));
    out.push(
      ev(
        RoundStarted,
        { round: r, policyRevision: 0, policySha256: contentHash(policy), candidates, seed: seed + r },
        campaignStream,
        'orchestrator',
      ),
    );

    const lanes: EventEnvelope[][] = candidates.map((c) => {
      const lane: EventEnvelope[] = [];
      const stream = `candidate-${c.candidateId}`;
      lane.push(
        ev(
          CandidateForked,
          {
            round: r,
            candidateId: c.candidateId,
            index: c.index,
            axis: c.axis,
            isAnchor: c.isAnchor,
            seeds: c.seeds,
            snapshotId: contentHash('snapshot'),
            sandboxPath: `/sandboxes/${c.candidateId}`,
            policyRevision: 0,
          },
          `fork-${c.candidateId}`,
          'substrate',
        ),
      );
      lane.push(
        ev(
          WorkerStarted,
          { candidateId: c.candidateId, round: r, workerId: 'w1', agentKind: 'heuristic', resumedFromStep: null },
          stream,
          'worker',
        ),
      );
      const jobId = `${c.candidateId}-train`;
      const spec = {
        jobId,
        candidateId: c.candidateId,
        round: r,
        entrypoint: 'train' as const,
        sandboxPath: `/sandboxes/${c.candidateId}`,
        argv: ['train'],
        resources: { cpu: 1, memoryMiB: 512, gpu: 0 },
        timeoutSeconds: 600,
        isolation: { snapshotId: contentHash('snapshot'), outputs: ['runs/ckpt'], inputs: [] },
      };
      const terminal = {
        candidateId: c.candidateId,
        round: r,
        gpuSeconds: 0,
        wallSeconds: 1 + mix(),
        logTail: '',
        logPath: null,
        executor: 'local' as const,
        gpuCount: 0,
        budgetUnit: 'cpu-slot-seconds' as const,
      };
      if (opts.disturbed && c.index === 1) {
        lane.push(ev(JobRequested, { spec: { ...spec, jobId: `${jobId}-lost` } }, stream, 'worker'));
        lane.push(
          ev(
            JobFailed,
            { ...terminal, jobId: `${jobId}-lost`, exitCode: null, reason: 'lost', message: 'slot died' },
            `job-${jobId}-lost`,
            'dispatch',
          ),
        );
        lane.push(
          ev(
            WorkerStarted,
            { candidateId: c.candidateId, round: r, workerId: 'w2', agentKind: 'heuristic', resumedFromStep: 3 },
            stream,
            'worker',
          ),
        );
      }
      lane.push(ev(JobRequested, { spec }, stream, 'worker'));
      lane.push(ev(JobSucceeded, { ...terminal, jobId, exitCode: 0 }, `job-${jobId}`, 'dispatch'));
      const devOverall = round3(0.4 + 0.4 * rnd());
      const domains = Object.fromEntries(
        DOMAINS.map((d) => [d, round3(Math.min(1, Math.max(0, devOverall + 0.1 * (rnd() - 0.5))))]),
      );
      const checkpoint = `runs/seed-${c.seeds[0]}/ckpt/step-000200`;
      lane.push(
        ev(
          ManifestSubmitted,
          {
            candidateId: c.candidateId,
            round: r,
            manifest: {
              campaignId,
              round: r,
              candidateId: c.candidateId,
              axis: c.axis,
              isAnchor: c.isAnchor,
              status: 'completed',
              hypothesis: c.isAnchor ? 'anchor' : `vary ${c.axis}`,
              recipeChanges: c.isAnchor ? [] : [{ path: 'lr', from: 0.001, to: round3(0.002 * (1 + rnd())) }],
              recipeDiff: '',
              filesChanged: c.isAnchor ? [] : ['recipe.yaml'],
              seeds: c.seeds,
              checkpoints: [{ checkpoint, step: 200, seed: c.seeds[0], dev: { overall: devOverall, domains } }],
              chosenCheckpoint: {
                checkpoint,
                seed: c.seeds[0],
                criterion: 'mean',
                reason: 'best dev',
                dev: { overall: devOverall, domains },
              },
              failureModes: [],
              cost: { gpuSeconds: 0, inputTokens: 0, outputTokens: 0, toolCalls: 3, jobs: 1 },
              traceLength: 6,
            },
          },
          stream,
          'worker',
        ),
      );
      return lane;
    });
    // Interleave the candidates' streams as concurrent services would, keeping each stream's order.
    while (lanes.some((l) => l.length > 0)) {
      const open = lanes.filter((l) => l.length > 0);
      out.push(open[Math.floor(mix() * open.length)].shift() as EventEnvelope);
    }
    if (opts.disturbed && r === 1)
      out.push(
        ev(
          MessageDeadLettered,
          {
            stream: 'AEVO_EVENTS',
            consumer: 'worker__CandidateForked',
            subject: `aevo.evt.${campaignId}.CandidateForked`,
            streamSequence: 3,
            deliveries: 5,
            eventId: null,
            eventType: 'CandidateForked',
            error: 'boom',
          },
          `deadletter-${campaignId}`,
          'worker',
        ),
      );

    const submitted = candidates.slice(1, 3);
    let roundBest: number | null = null;
    const subLanes = submitted.map((c, k) => {
      const submissionId = `${campaignId}-r${r}-s${k}`;
      const publicScore = round3(0.3 + 0.5 * rnd());
      const privateScore = round3(publicScore - 0.05 + 0.1 * rnd());
      allSubmissions.push({ submissionId, candidateId: c.candidateId, round: r, publicScore, privateScore });
      roundBest = roundBest === null ? publicScore : Math.max(roundBest, publicScore);
      if (!best || publicScore > best.publicLb)
        best = { candidateId: c.candidateId, publicLb: publicScore, privateLb: privateScore };
      return [
        ev(
          SubmissionRequested,
          {
            round: r,
            submissionId,
            candidateId: c.candidateId,
            checkpoint: 'ckpt',
            sandboxPath: `/sandboxes/${c.candidateId}`,
            reason: 'top dev',
          },
          campaignStream,
          'orchestrator',
        ),
        ev(
          SubmissionAccepted,
          {
            submissionId,
            candidateId: c.candidateId,
            round: r,
            board: 'local',
            externalRef: null,
            quotaUsed: k + 1,
            quotaLimit: 2,
          },
          `leaderboard-${campaignId}`,
          'leaderboard',
        ),
        ev(
          LeaderboardScored,
          { submissionId, candidateId: c.candidateId, round: r, publicScore, publicDomains: null },
          `leaderboard-${campaignId}`,
          'leaderboard',
        ),
      ];
    });
    for (const lane of subLanes) out.push(lane[0]);
    const rest = subLanes.map((l) => l.slice(1));
    while (rest.some((l) => l.length > 0)) {
      const open = rest.filter((l) => l.length > 0);
      out.push(open[Math.floor(mix() * open.length)].shift() as EventEnvelope);
    }
    out.push(ev(RoundClosed, { round: r, policyRevision: 0, bestPublicLb: roundBest }, campaignStream, 'orchestrator'));
  }
  out.push(ev(PrivateLeaderboardUnsealed, { scores: allSubmissions }, `leaderboard-${campaignId}`, 'leaderboard'));
  const b = best as { candidateId: string; publicLb: number; privateLb: number } | null;
  out.push(
    ev(
      CampaignCompleted,
      {
        rounds,
        reason: 'rounds-exhausted',
        bestCandidateId: b?.candidateId ?? null,
        bestPublicLb: b?.publicLb ?? null,
        bestPrivateLb: b?.privateLb ?? null,
      },
      campaignStream,
      'orchestrator',
    ),
  );
  return out;
}

/** Gives envelopes positions and stream versions as a store would (for in-memory folding). */
export function asStoredEvents(events: readonly EventEnvelope[], firstPosition = 1): StoredEvent[] {
  const versions = new Map<string, number>();
  return events.map((e, i) => {
    const v = (versions.get(e.streamId) ?? 0) + 1;
    versions.set(e.streamId, v);
    return { ...e, position: firstPosition + i, streamVersion: v };
  });
}
