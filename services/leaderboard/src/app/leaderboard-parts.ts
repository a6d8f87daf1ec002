import type { EventStore } from '@aevo/eventstore';
import { KaggleCompetitionClient } from '@aevo/kaggle';
import type { LeaderboardConfig } from '../config';
import { BoardFiles } from './board-files';
import { CampaignSnapshots } from './campaign-snapshots';
import { FrozenHarness } from './frozen-harness';
import { KaggleBoard } from './kaggle-board';
import { KaggleSubmissions } from './kaggle-submissions';
import { UnavailableBoard, type LeaderboardBoard } from './leaderboard-board';
import type { LeaderboardParts } from './leaderboard-workflow';
import { LocalBoard } from './local-board';
import { PredictJobs } from './predict-job';

/** The Kaggle board the settings describe, or one that says why there is none. */
function kaggleBoard(config: LeaderboardConfig, files: BoardFiles): LeaderboardBoard {
  const k = config.kaggle;
  if (!k)
    return new UnavailableBoard(
      'kaggle',
      'the Kaggle board is not configured',
      'the Kaggle board is not configured in this replica',
    );
  if ('problem' in k) return new UnavailableBoard('kaggle', k.problem);
  let client: KaggleCompetitionClient;
  try {
    client = new KaggleCompetitionClient(k.client);
  } catch (err) {
    return new UnavailableBoard('kaggle', (err as Error).message);
  }
  return new KaggleBoard(new KaggleSubmissions(client, k.competition, k.poll), k.promptsPath, files);
}

/** The workflow's collaborators built from the configuration: both boards, the board's files, predict jobs. */
export function leaderboardParts(
  store: EventStore,
  config: LeaderboardConfig,
  log: (msg: string) => void = () => undefined,
): LeaderboardParts {
  const files = new BoardFiles(config.aevoHome);
  const snapshots = new CampaignSnapshots(store);
  const harness = new FrozenHarness(files, config);
  return {
    boards: {
      local: new LocalBoard(files, harness, (c) => snapshots.of(c), log),
      kaggle: kaggleBoard(config, files),
    },
    files,
    snapshots,
    predictJobs: new PredictJobs(store, files, config),
  };
}
