/** Events of one campaign as the substrate decider's specs write them (type, data, campaign only). */
import type { EventEnvelope } from '@aevo/contracts';
import { DeciderSpecification } from '@aevo/testkit';
import { evolve, initialSubstrateState, substrateDecider, type SubstrateState } from '../src/domain/substrate';

export type Ev = Pick<EventEnvelope, 'type' | 'data' | 'campaignId'>;
export const ev = (type: string, data: unknown): Ev => ({ type, data, campaignId: 'c1' });
export const SHA = (c: string) => c.repeat(64);

export const campaignStarted = ev('CampaignStarted', {
  config: { campaignId: 'c1', substratePath: 'substrate/simulated' },
  initialPolicy: { revision: 0, standingRecipe: { lr: 0.001 } },
});
export const snapshotted = ev('SubstrateSnapshotted', {
  snapshotId: SHA('a'),
  name: 'fixture',
  version: '0.1.0',
  snapshotPath: '/h/snapshots/a',
  files: 9,
  bytes: 100,
  frozenSha256: {},
});
export const plan = (id: string, index: number) => ({
  candidateId: id,
  index,
  axis: index === 0 ? 'baseline' : 'learning-rate',
  isAnchor: index === 0,
  seeds: [7],
});
export const roundStarted = (round: number, ids: string[], policyRevision = 0) =>
  ev('RoundStarted', { round, policyRevision, policySha256: SHA('b'), candidates: ids.map(plan), seed: 1 });
export const forked = (id: string, round = 1) =>
  ev('CandidateForked', {
    ...plan(id, 0),
    round,
    snapshotId: SHA('a'),
    sandboxPath: `/h/sandboxes/c1/${id}`,
    policyRevision: 0,
  });
export const jobRequested = (jobId: string, candidateId: string) =>
  ev('JobRequested', { spec: { jobId, candidateId } });
export const jobEnded = (type: string, jobId: string, candidateId: string) => ev(type, { jobId, candidateId });

export const spec = DeciderSpecification(substrateDecider);
export const fold = (events: Ev[]): SubstrateState => events.reduce(evolve, initialSubstrateState());
export const round1 = [campaignStarted, snapshotted, roundStarted(1, ['r1-c0', 'r1-c1', 'r1-c2'])];
