import { canonicalJson, eventDefinition, type ScoreVector } from '@aevo/contracts';
import type { StoredEvent } from '@aevo/eventstore';

/** A claim that disagrees with the fact it cites, or cites none; `reason` is one line naming both positions. */
export interface ClaimFinding {
  campaignId: string;
  position: number;
  reason: string;
}

export interface ClaimReport {
  checked: number;
  findings: ClaimFinding[];
  skipped: string[];
}

type Evaluated = StoredEvent & {
  data: {
    requestId: string;
    candidateId: string;
    round: number;
    checkpoint: string;
    step: number;
    seed: number;
    dev: ScoreVector;
  };
};
type Selected = StoredEvent & {
  data: { requestId: string; candidateId: string; round: number; checkpoint: string; step: number; dev: ScoreVector };
};
type Manifest = StoredEvent & {
  data: {
    candidateId: string;
    round: number;
    manifest: {
      candidateId: string;
      round: number;
      campaignId: string;
      checkpoints: Array<{ checkpoint: string; step: number; seed: number; dev: ScoreVector }>;
      chosenCheckpoint: { checkpoint: string; seed: number; dev: ScoreVector } | null;
    };
  };
};

/** The event types whose data this check reads. */
const CLAIM_TYPES = new Set([
  'CheckpointEvaluated',
  'CheckpointSelected',
  'ManifestSubmitted',
  'SubmissionRequested',
  'SubmissionAccepted',
  'LeaderboardScored',
  'PrivateLeaderboardUnsealed',
]);

function schemaProblem(e: StoredEvent): string | null {
  const def = eventDefinition(e.type);
  if (!def) return 'unregistered type';
  const parsed = def.data.safeParse(e.data);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  return `${issue.path.join('.') || '(data)'}: ${issue.message}`;
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);
const key = (...parts: Array<string | number>): string => JSON.stringify(parts);
const brief = (d: ScoreVector): string =>
  `dev.overall ${d.overall}${same(d.domains, {}) ? '' : ` (+${Object.keys(d.domains).length} domains)`}`;

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/**
 * Re-checks what the log's claims cite against the facts of the service that owns them:
 * - every manifest checkpoint (and its chosen checkpoint) against the evaluation service's CheckpointEvaluated for
 *   the same candidate, round, checkpoint and seed: step and dev scores must be equal;
 * - every CheckpointSelected against the CheckpointEvaluated of its request and checkpoint;
 * - every LeaderboardScored and SubmissionAccepted against the SubmissionRequested it answers (candidate, round),
 *   and the public scores PrivateLeaderboardUnsealed repeats against LeaderboardScored.
 * A campaign without any evaluation facts (a log from before the evaluation service, or a hand-made one) has its
 * manifests reported as skipped, not failed; once a campaign has evaluation facts, a manifest score without one is a
 * finding.
 */
export function checkManifestClaims(events: StoredEvent[]): ClaimReport {
  const findings: ClaimFinding[] = [];
  const skipped: string[] = [];
  let checked = 0;
  const byCampaign = new Map<string, StoredEvent[]>();
  for (const e of events) {
    // A claim or fact that no longer matches its schema (a tampered row) cannot be read, only reported.
    const problem = CLAIM_TYPES.has(e.type) ? schemaProblem(e) : null;
    if (problem)
      findings.push({
        campaignId: e.campaignId,
        position: e.position,
        reason:
          `${e.type} at position ${e.position} does not match its schema (${problem}): its claims cannot be ` +
          `checked`,
      });
    else push(byCampaign, e.campaignId, e);
  }
  for (const [campaignId, mine] of [...byCampaign].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const evaluated = new Map<string, Evaluated[]>();
    const byRequest = new Map<string, Evaluated[]>();
    const requested = new Map<
      string,
      StoredEvent & { data: { submissionId: string; candidateId: string; round: number } }
    >();
    const scored = new Map<string, StoredEvent & { data: { publicScore: number } }>();
    for (const e of mine) {
      if (e.type === 'CheckpointEvaluated') {
        const d = (e as Evaluated).data;
        push(evaluated, key(d.candidateId, d.round, d.checkpoint, d.seed), e as Evaluated);
        push(byRequest, key(d.requestId, d.checkpoint), e as Evaluated);
      }
      if (e.type === 'SubmissionRequested')
        requested.set((e.data as { submissionId: string }).submissionId, e as never);
    }
    const unchecked: number[] = [];
    const find = (f: ClaimFinding['reason'], position: number) => findings.push({ campaignId, position, reason: f });
    for (const e of mine) {
      if (e.type === 'ManifestSubmitted') {
        const m = (e as Manifest).data.manifest;
        const claims = [
          ...m.checkpoints.map((c) => ({ what: `checkpoint ${c.checkpoint} (seed ${c.seed})`, ...c })),
          ...(m.chosenCheckpoint
            ? [
                {
                  what: `chosen checkpoint ${m.chosenCheckpoint.checkpoint} (seed ${m.chosenCheckpoint.seed})`,
                  step: undefined,
                  ...m.chosenCheckpoint,
                },
              ]
            : []),
        ];
        if (evaluated.size === 0) {
          if (claims.length > 0) unchecked.push(e.position);
          continue;
        }
        for (const c of claims) {
          checked++;
          const facts = evaluated.get(key(m.candidateId, m.round, c.checkpoint, c.seed)) ?? [];
          if (facts.length === 0) {
            find(
              `ManifestSubmitted at position ${e.position} (${m.candidateId} r${m.round}) claims ${c.what}` +
                ` with ${brief(c.dev)}, but no CheckpointEvaluated fact exists for it`,
              e.position,
            );
            continue;
          }
          if (facts.some((f) => same(f.data.dev, c.dev) && (c.step === undefined || f.data.step === c.step))) continue;
          const f = facts[facts.length - 1];
          find(
            `ManifestSubmitted at position ${e.position} (${m.candidateId} r${m.round}) claims ${c.what} ` +
              `${c.step === undefined ? '' : `step ${c.step} `}${brief(c.dev)}; CheckpointEvaluated at ` +
              `position ${f.position} says step ${f.data.step} ${brief(f.data.dev)}`,
            e.position,
          );
        }
      }
      if (e.type === 'CheckpointSelected') {
        checked++;
        const d = (e as Selected).data;
        const facts = byRequest.get(key(d.requestId, d.checkpoint)) ?? [];
        if (facts.length === 0)
          find(
            `CheckpointSelected at position ${e.position} (${d.candidateId} r${d.round}) selects ` +
              `${d.checkpoint}, which request ${d.requestId} never evaluated`,
            e.position,
          );
        else if (
          !facts.some(
            (f) =>
              same(f.data.dev, d.dev) &&
              f.data.step === d.step &&
              f.data.candidateId === d.candidateId &&
              f.data.round === d.round,
          )
        )
          find(
            `CheckpointSelected at position ${e.position} (${d.candidateId} r${d.round}) says ` +
              `${d.checkpoint} step ${d.step} ${brief(d.dev)}; CheckpointEvaluated at position ` +
              `${facts[0].position} says step ${facts[0].data.step} ${brief(facts[0].data.dev)}`,
            e.position,
          );
      }
      if (e.type === 'SubmissionAccepted' || e.type === 'LeaderboardScored') {
        checked++;
        const d = e.data as { submissionId: string; candidateId: string; round: number; publicScore?: number };
        const r = requested.get(d.submissionId);
        if (!r)
          find(
            `${e.type} at position ${e.position} answers submission ${d.submissionId}, which was never requested`,
            e.position,
          );
        else if (r.data.candidateId !== d.candidateId || r.data.round !== d.round)
          find(
            `${e.type} at position ${e.position} names ${d.candidateId} r${d.round} for ${d.submissionId}` +
              `; SubmissionRequested at position ${r.position} names ${r.data.candidateId} r${r.data.round}`,
            e.position,
          );
        if (e.type === 'LeaderboardScored') scored.set(d.submissionId, e as never);
      }
      if (e.type === 'PrivateLeaderboardUnsealed') {
        for (const s of (e.data as { scores: Array<{ submissionId: string; publicScore: number }> }).scores) {
          checked++;
          const f = scored.get(s.submissionId);
          if (!f)
            find(
              `PrivateLeaderboardUnsealed at position ${e.position} reveals ${s.submissionId}, which was never scored`,
              e.position,
            );
          else if (f.data.publicScore !== s.publicScore)
            find(
              `PrivateLeaderboardUnsealed at position ${e.position} repeats public score ${s.publicScore} ` +
                `for ${s.submissionId}; LeaderboardScored at position ${f.position} says ` +
                `${f.data.publicScore}`,
              e.position,
            );
        }
      }
    }
    if (unchecked.length > 0)
      skipped.push(
        `${campaignId}: the scores of ${unchecked.length} manifest(s) (positions ${unchecked.join(', ')}` +
          `): the campaign has no evaluation facts to check them against`,
      );
  }
  findings.sort((a, b) => a.position - b.position);
  return { checked, findings, skipped };
}
