'use strict';
// The StartCampaign payload every campaign benchmark sends: the simulated substrate's copy, the default
// constitution, size tiny, heuristic workers on eight axes, no LLM tokens.
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const CONSTITUTION = path.join(ROOT, 'deploy/constitutions/default.yaml');

function campaignConfig(campaignId, substratePath, { rounds, workers, seed = 1, submissions = 2, axes }) {
  return {
    campaignId,
    substratePath,
    constitutionPath: CONSTITUTION,
    size: 'tiny',
    rounds,
    workersPerRound: workers,
    axes: axes || [
      'learning-rate',
      'schedule',
      'warmup',
      'steps',
      'lora-capacity',
      'data-mix',
      'augmentation',
      'synthetic-data',
    ],
    seed,
    budgets: { gpuSeconds: 1e9, llmTokens: 0, submissionsPerRound: submissions },
  };
}

module.exports = { campaignConfig };
