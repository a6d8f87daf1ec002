import type { EventStore } from '@aevo/eventstore';
import type { KaggleCompetitionClient, PollOptions } from '@aevo/kaggle';
import type { LeaderboardConfig } from '../src/config';
import { KaggleBoard } from '../src/app/kaggle-board';
import { KaggleSubmissions } from '../src/app/kaggle-submissions';
import { leaderboardParts } from '../src/app/leaderboard-parts';
import { LeaderboardWorkflow } from '../src/app/leaderboard-workflow';
import type { SealedScoreStore } from '../src/app/sealed-scores';
import { FIXTURE, campaignStarted, substrateSnapshotted, type Snapshot } from './helpers';

/** The settings every workflow spec shares; each names its own AEVO_HOME (and secret, Kaggle settings). */
export function testConfig(config: Partial<LeaderboardConfig> & { aevoHome: string }): LeaderboardConfig {
  return { commandTimeoutMs: 60_000, defaultPredictTimeoutSeconds: 600, defaultSize: 'tiny', ...config };
}

/** A workflow wired as the module wires it, from settings. */
export function workflowFor(store: EventStore, sealed: SealedScoreStore, config: LeaderboardConfig) {
  const parts = leaderboardParts(store, config);
  return { wf: new LeaderboardWorkflow(store, sealed, parts), files: parts.files };
}

/** A workflow whose Kaggle board talks through the given client (a loopback server's, with test sleeps). */
export function kaggleWorkflowFor(
  store: EventStore,
  sealed: SealedScoreStore,
  config: LeaderboardConfig,
  kaggle: { client: KaggleCompetitionClient; competition: string; poll: PollOptions; promptsPath: string },
) {
  const parts = leaderboardParts(store, config);
  const submissions = new KaggleSubmissions(kaggle.client, kaggle.competition, kaggle.poll);
  const board = new KaggleBoard(submissions, kaggle.promptsPath, parts.files);
  const wf = new LeaderboardWorkflow(store, sealed, { ...parts, boards: { ...parts.boards, kaggle: board } });
  return { wf, submissions };
}

/** CampaignStarted, then the substrate service's SubstrateSnapshotted (which opens a local board), both stored. */
export async function openLocalBoard(
  store: EventStore,
  w: LeaderboardWorkflow,
  c: string,
  quota: number,
  snapshot: Snapshot,
) {
  const started = campaignStarted(c, { substratePath: FIXTURE, leaderboard: 'local', submissionsPerRound: quota });
  await store.append(`campaign-${c}`, 'no-stream', [started]);
  expect(await w.onCampaignStarted(started)).toEqual([]); // a local board waits for the campaign's snapshot
  const snapshotted = substrateSnapshotted(c, snapshot);
  await store.append(`substrate:${c}`, 'any', [snapshotted]);
  return { started, snapshotted, events: await w.onSubstrateSnapshotted(snapshotted) };
}
