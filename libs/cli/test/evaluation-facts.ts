import { CheckpointEvaluated, CheckpointSelected, createEvent, type EventEnvelope } from '@aevo/contracts';

export type Manifest = {
  candidateId: string;
  round: number;
  manifest: {
    checkpoints: Array<{
      checkpoint: string;
      step: number;
      seed: number;
      dev: { overall: number; domains: Record<string, number> };
    }>;
  };
};

/** What the evaluation service would have recorded for a sample manifest's checkpoints. */
export function evaluationFacts(m: EventEnvelope): EventEnvelope[] {
  const d = m.data as Manifest;
  const ctx = {
    campaignId: m.campaignId,
    streamId: `evaluation:${m.campaignId}:${d.candidateId}-eval`,
    source: 'evaluation' as const,
  };
  const requestId = `${d.candidateId}-eval`;
  const evaluated = d.manifest.checkpoints.map((c, i) =>
    createEvent(
      CheckpointEvaluated,
      {
        requestId,
        candidateId: d.candidateId,
        round: d.round,
        checkpoint: c.checkpoint,
        step: c.step,
        seed: c.seed,
        split: 'dev',
        dev: c.dev,
        n: 100,
        jobId: `${requestId}-${i}`,
      },
      ctx,
    ),
  );
  const c = d.manifest.checkpoints[0];
  const selected = createEvent(
    CheckpointSelected,
    {
      requestId,
      candidateId: d.candidateId,
      round: d.round,
      checkpoint: c.checkpoint,
      step: c.step,
      criterion: { kind: 'mean' },
      score: c.dev.overall,
      dev: c.dev,
      considered: evaluated.length,
    },
    ctx,
  );
  return [...evaluated, selected];
}
