import {
  CampaignStarted,
  CandidateForked,
  EvaluationRequested,
  JobFailed,
  JobRequested,
  JobSucceeded,
  LeaderboardScored,
  ManifestSubmitted,
  PolicyRevised,
  RoundClosed,
  RoundEvidenceRecorded,
  RoundStarted,
  SubmissionRequested,
  contentHash,
  createEvent,
  sha256Hex,
  type EventDefinition,
  type EventOf,
  type JobSpec,
  type ServiceName,
} from '@aevo/contracts';
import { collectRoundEvidence, testCampaignStarted, testManifest, testRound } from '@aevo/evidence';
import type { z } from 'zod';
import { policies } from './policies';

/** Campaign of every built event unless the overrides name one. */
export const TEST_CAMPAIGN_ID = 'camp-test';
const SHA = sha256Hex('testkit');

type DataIn<D extends EventDefinition> = z.input<D['data']>;

/** What a test may set on a built event: its envelope's context and any top-level data field. */
export interface EventOverrides<D extends EventDefinition> {
  campaignId?: string;
  streamId?: string;
  /** Default: the event's first owner in the contracts registry (the service that emits it). */
  source?: ServiceName;
  causationId?: string | null;
  correlationId?: string | null;
  now?: () => Date;
  data?: Partial<DataIn<D>>;
}

/**
 * A builder of `def` envelopes: defaults computed from the campaign id and the overridden data (so that, e.g., a
 * manifest names the overridden candidate), overrides merged over them, and the whole envelope validated by the
 * contracts' schema through `createEvent`: an override the schema refuses throws, naming the field.
 */
const builder =
  <D extends EventDefinition>(def: D) =>
  (
    defaults: (campaignId: string, data: Partial<DataIn<D>>) => DataIn<D>,
    streamOf: (campaignId: string, data: DataIn<D>) => string,
  ) =>
  (overrides: EventOverrides<D> = {}): EventOf<D> => {
    const campaignId = overrides.campaignId ?? TEST_CAMPAIGN_ID;
    const given = overrides.data ?? {};
    const data = { ...(defaults(campaignId, given) as object), ...(given as object) } as DataIn<D>;
    return createEvent(def, data, {
      campaignId,
      streamId: overrides.streamId ?? streamOf(campaignId, data),
      source: overrides.source ?? def.owners[0],
      causationId: overrides.causationId,
      correlationId: overrides.correlationId,
      now: overrides.now,
    });
  };

/**
 * An envelope of `def` with exactly the data given (no defaults), validated by `createEvent`: for a suite whose own
 * builders set every field, as `source` would append it to `streamId`.
 */
export const eventAs = <D extends EventDefinition>(
  def: D,
  campaignId: string,
  source: ServiceName,
  streamId: string,
  data: DataIn<D>,
): EventOf<D> => createEvent(def, data, { campaignId, streamId, source });

const campaignStream = (campaignId: string) => `campaign-${campaignId}`;
const roundOf = (d: { round?: number }) => d.round ?? 1;
const candidateOf = (d: { candidateId?: string }, round = 1) => d.candidateId ?? `r${round}-c1`;
const terminal = (d: { jobId?: string; candidateId?: string; round?: number }) => ({
  jobId: d.jobId ?? `job-${candidateOf(d, roundOf(d))}`,
  candidateId: candidateOf(d, roundOf(d)),
  round: roundOf(d),
  gpuSeconds: 0,
  wallSeconds: 1,
  logTail: '',
  logPath: null,
  executor: 'local' as const,
  gpuCount: 0,
  budgetUnit: 'cpu-slot-seconds' as const,
});

/**
 * The terminal event dispatch records for `spec` run by the local executor, in the job's stream: JobSucceeded when it
 * exited 0, else JobFailed for its exit code (null: killed by a signal). For a test that runs a job itself.
 */
export function localJobTerminal(
  campaignId: string,
  spec: JobSpec,
  exitCode: number | null,
  logTail: string,
): EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> {
  const ctx = { campaignId, streamId: `job:${spec.jobId}`, source: 'dispatch' as const };
  const common = {
    ...terminal(spec),
    wallSeconds: 0.1,
    logTail,
  };
  if (exitCode === 0) return createEvent(JobSucceeded, { ...common, exitCode: 0 }, ctx);
  return createEvent(JobFailed, { ...common, exitCode, reason: 'exit-code', message: `exited with ${exitCode}` }, ctx);
}

/**
 * Builders of the events one service appends for another, as the upstream service would append them:
 * `events.RoundStarted({ campaignId: 'c1', data: { round: 2 } })`. Each returns a validated envelope.
 */
export const events = {
  /** The orchestrator's record of a started campaign (evidence's testCampaignStarted), revision 0 policy. */
  CampaignStarted: builder(CampaignStarted)(
    (campaignId) => testCampaignStarted(campaignId, policies.initial()).data as DataIn<typeof CampaignStarted>,
    campaignStream,
  ),

  /** Round 1: an anchor r1-c0 (baseline) and r1-c1 (learning-rate), one seed each. */
  RoundStarted: builder(RoundStarted)((_c, d) => {
    const round = roundOf(d);
    return {
      round,
      policyRevision: round - 1,
      policySha256: SHA,
      candidates: [
        { candidateId: `r${round}-c0`, index: 0, axis: 'baseline', isAnchor: true, seeds: [1] },
        { candidateId: `r${round}-c1`, index: 1, axis: 'learning-rate', isAnchor: false, seeds: [1] },
      ],
      seed: round,
    };
  }, campaignStream),

  RoundClosed: builder(RoundClosed)(
    (_c, d) => ({ round: roundOf(d), policyRevision: roundOf(d), bestPublicLb: null }),
    campaignStream,
  ),

  CandidateForked: builder(CandidateForked)(
    (campaignId, d) => {
      const round = roundOf(d);
      const candidateId = candidateOf(d, round);
      return {
        round,
        candidateId,
        index: 1,
        axis: 'learning-rate',
        isAnchor: false,
        seeds: [1],
        snapshotId: SHA,
        sandboxPath: `/tmp/aevo-test/sandboxes/${campaignId}/${candidateId}`,
        policyRevision: round - 1,
      };
    },
    (campaignId) => `substrate:${campaignId}`,
  ),

  /** A worker's train job for r1-c1 (cpu slot, 60 s). */
  JobRequested: builder(JobRequested)(
    (campaignId, d) => {
      const round = d.spec?.round ?? 1;
      const candidateId = d.spec?.candidateId ?? `r${round}-c1`;
      return {
        spec: {
          jobId: `job-${candidateId}`,
          candidateId,
          round,
          entrypoint: 'train',
          sandboxPath: `/tmp/aevo-test/sandboxes/${campaignId}/${candidateId}`,
          argv: ['python3', 'harness/train.py'],
          env: {},
          resources: { cpu: 1, memoryMiB: 256, gpu: 0 },
          timeoutSeconds: 60,
          priority: 'normal',
          isolation: { snapshotId: SHA, outputs: ['runs'], inputs: [] },
        },
      };
    },
    (_c, d) => `job-${d.spec.jobId}`,
  ),

  JobSucceeded: builder(JobSucceeded)(
    (_c, d) => ({ ...terminal(d), exitCode: 0 }),
    (_c, d) => `job-${d.jobId}`,
  ),

  JobFailed: builder(JobFailed)(
    (_c, d) => ({ ...terminal(d), exitCode: 1, reason: 'exit-code', message: 'exited 1' }),
    (_c, d) => `job-${d.jobId}`,
  ),

  EvaluationRequested: builder(EvaluationRequested)(
    (campaignId, d) => {
      const round = roundOf(d);
      const candidateId = candidateOf(d, round);
      return {
        requestId: `eval-${candidateId}`,
        candidateId,
        round,
        sandboxPath: `/tmp/aevo-test/sandboxes/${campaignId}/${candidateId}`,
        checkpoints: ['runs/seed-1/ckpt/step-000100'],
        seed: 1,
        criterion: { kind: 'mean' },
      };
    },
    (_c, d) => `candidate-${d.candidateId}`,
  ),

  /** A completed manifest (evidence's testManifest) of a learning-rate candidate at dev 0.6. */
  ManifestSubmitted: builder(ManifestSubmitted)(
    (campaignId, d) => {
      const round = roundOf(d);
      const candidateId = candidateOf(d, round);
      const manifest = testManifest(campaignId, round, candidateId, false, { axis: 'learning-rate', dev: 0.6 });
      return { candidateId, round, manifest };
    },
    (_c, d) => `candidate-${d.candidateId}`,
  ),

  SubmissionRequested: builder(SubmissionRequested)((campaignId, d) => {
    const round = roundOf(d);
    const candidateId = candidateOf(d, round);
    return {
      round,
      submissionId: `sub-${candidateId}`,
      candidateId,
      checkpoint: 'runs/seed-1/ckpt/step-000100',
      sandboxPath: `/tmp/aevo-test/sandboxes/${campaignId}/${candidateId}`,
      reason: 'best dev',
    };
  }, campaignStream),

  LeaderboardScored: builder(LeaderboardScored)(
    (_c, d) => {
      const candidateId = candidateOf(d, roundOf(d));
      return {
        submissionId: `sub-${candidateId}`,
        candidateId,
        round: roundOf(d),
        publicScore: 0.5,
        publicDomains: null,
      };
    },
    (campaignId) => `leaderboard:${campaignId}`,
  ),

  /** The collector's record of a round of an anchor and one learning-rate candidate (evidence's collector). */
  RoundEvidenceRecorded: builder(RoundEvidenceRecorded)(
    (campaignId, d) => {
      const round = roundOf(d);
      const evidence = collectRoundEvidence(
        testRound(
          [
            { axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.605] },
            { axis: 'learning-rate', dev: 0.63, lb: 0.58, changes: [{ path: 'optim.lr', from: 0.001, to: 0.002 }] },
          ],
          { campaignId, round, policy: policies.initial() },
        ),
      );
      return {
        round,
        evidence,
        evidenceSha256: contentHash(evidence),
        trigger: 'all-in',
        inputEventIds: [],
        llm: null,
      };
    },
    (campaignId, d) => `collector-${campaignId}-r${d.round}`,
  ),

  /** The rule engine's revision 1 of the initial policy (policies.revised), from round 1's evidence. */
  PolicyRevised: builder(PolicyRevised)(
    (_c, d) => {
      const round = roundOf(d);
      const policy = d.policy ?? policies.revised(policies.initial(), { revision: round, forRound: round + 1 });
      return {
        round,
        policy,
        policySha256: contentHash(policy),
        previousRevision: round - 1,
        evidenceSha256: SHA,
        constitutionSha256: SHA,
        proposer: 'rules',
        changes: [],
        llm: null,
      };
    },
    (campaignId, d) => `meta-policy-${campaignId}-r${d.round}`,
  ),
};
