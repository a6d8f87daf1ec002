import {
  applyViewEvent,
  campaignStatusView,
  emptyViewsState,
  STATUS_EVENT_TYPES,
  type CampaignStatusView,
  type CandidateStatusRow,
  type RoundStatusRow,
  type ViewsState,
} from '@aevo/projections';

/**
 * `aevo campaign status|watch`: the campaign's status view from libs/projections (the fold every dashboard view and
 * the report use, so the CLI and the dashboard say the same thing in the same words), rendered as text.
 */
export type { CampaignStatusView };

/** The event types the CLI reads for the view (trace steps and the like are skipped). */
export const VIEW_EVENT_TYPES = STATUS_EVENT_TYPES;

/** One campaign's fold as the CLI follows it (incrementally, for watch). */
export interface CampaignFollow {
  campaignId: string;
  state: ViewsState;
}

export const emptyView = (campaignId: string): CampaignFollow => ({ campaignId, state: emptyViewsState() });

/** Folds one event of the campaign (others are ignored). */
export function applyView(f: CampaignFollow, e: { type: string; campaignId: string; data: unknown }): CampaignFollow {
  if (e.campaignId === f.campaignId) applyViewEvent(f.state, e);
  return f;
}

export const statusOf = (f: CampaignFollow): CampaignStatusView => campaignStatusView(f.state, f.campaignId);

export const isDone = (c: CandidateStatusRow) =>
  c.status === 'completed' || c.status === 'failed' || c.status === 'invalidated';
export const ended = (v: CampaignStatusView) => v.status === 'completed' || v.status === 'aborted';

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '—' : x.toFixed(digits));

export function bar(done: number, total: number, width = 20): string {
  if (total <= 0) return '░'.repeat(width);
  const full = Math.round((Math.min(done, total) / total) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function roundPhase(r: RoundStatusRow): string {
  if (r.status === 'closed') return 'closed';
  if (r.revisedTo !== null) return 'policy revised';
  if (r.status === 'evidence-recorded') return 'evidence recorded';
  if (r.submissions > 0) {
    const scored = r.candidates.filter((c) => c.submission === 'scored' || c.submission === 'rejected').length;
    return `leaderboard ${scored}/${r.submissions}`;
  }
  const done = r.candidates.filter(isDone).length;
  return done === r.candidates.length ? 'choosing submissions' : 'working';
}

/**
 * The dev / leaderboard table: one row per round (anchor dev, best dev, best public LB, private LB of the best-public).
 */
export function roundTable(v: CampaignStatusView): string[] {
  const lines = ['round  policy  anchor dev  best dev  best LB  private(best LB)  submitted'];
  for (const r of v.rounds) {
    const anchors = r.candidates.filter((c) => c.isAnchor && c.dev !== null).map((c) => c.dev as number);
    const devs = r.candidates.filter((c) => c.dev !== null).map((c) => c.dev as number);
    const bestPublic = r.candidates
      .filter((c) => c.publicLb !== null)
      .sort((a, b) => (b.publicLb as number) - (a.publicLb as number))[0];
    lines.push(
      [
        String(r.round).padStart(5),
        `r${r.policyRevision}`.padStart(6),
        fmt(anchors.length ? anchors.reduce((a, b) => a + b, 0) / anchors.length : null).padStart(10),
        fmt(devs.length ? Math.max(...devs) : null).padStart(8),
        fmt(bestPublic?.publicLb).padStart(7),
        fmt(bestPublic?.privateLb).padStart(16),
        `${r.submissions}`.padStart(9),
      ].join('  '),
    );
  }
  return lines;
}

/** The full text `aevo campaign watch` redraws (and `status` prints once). */
export function renderView(v: CampaignStatusView, opts: { candidates?: boolean } = {}): string[] {
  if (!v.config) return [`campaign ${v.campaignId}: nothing recorded yet`];
  const c = v.config;
  const out: string[] = [];
  const roundNow = v.rounds.length;
  const tokens =
    c.budgets.llmTokens > 0
      ? ` · LLM tokens ${v.spent.llmTokens} / ${c.budgets.llmTokens}`
      : v.spent.llmTokens > 0
        ? ` · LLM tokens ${v.spent.llmTokens}`
        : '';
  out.push(
    `campaign ${v.campaignId}  ${v.status}${v.statusReason ? ` (${v.statusReason})` : ''}  round ` +
      `${roundNow}/${c.rounds}  policy r${v.policyRevision}  ` +
      `${c.workersPerRound} workers · ${c.size} · ${c.workerKind} · budget ` +
      `${v.spent.gpuSeconds.toFixed(1)} / ${c.budgets.gpuSeconds} GPU-s${tokens}`,
  );
  out.push(
    `rounds  ${bar(v.rounds.filter((r) => r.status === 'closed').length, c.rounds, 30)} ` +
      `${v.rounds.filter((r) => r.status === 'closed').length}/${c.rounds} closed`,
  );
  for (const r of v.rounds) {
    const done = r.candidates.filter(isDone).length;
    out.push(
      `round ${String(r.round).padStart(2)}  ${bar(done, r.candidates.length)} ${done}/` +
        `${r.candidates.length} candidates  ${roundPhase(r)}` +
        `${r.bestPublicLb !== null ? `  best LB ${fmt(r.bestPublicLb)}` : ''}`,
    );
    const showCandidates = opts.candidates ?? r.status !== 'closed';
    if (!showCandidates) continue;
    const width = Math.max(...r.candidates.map((x) => x.axis.length), 8);
    for (const cand of r.candidates) {
      const j = cand.jobs;
      const n = (s: keyof CandidateStatusRow['jobs']) => j[s];
      const finished = j.done + j.failed;
      const total = j.queued + j.running + j.done + j.failed;
      out.push(
        `  c${String(cand.index).padEnd(3)} ${(cand.axis + (cand.isAnchor ? '*' : '')).padEnd(width + 1)} ` +
          `${bar(finished, total, 10)} ` +
          `jobs ${n('running')} running ${n('done')} done ${n('failed')} failed` +
          `${n('queued') ? ` ${n('queued')} queued` : ''}  ${cand.status.padEnd(11)}` +
          `${cand.dev !== null ? ` dev ${fmt(cand.dev)}` : ''}` +
          `${cand.publicLb !== null ? ` LB ${fmt(cand.publicLb)}` : ''}` +
          `${cand.privateLb !== null ? ` private ${fmt(cand.privateLb)}` : ''}` +
          `${cand.submission && cand.submission !== 'scored' ? ` [${cand.submission}]` : ''}` +
          `${cand.note && cand.status !== 'completed' ? `  (${cand.note})` : ''}`,
      );
    }
  }
  if (v.rounds.some((r) => r.status === 'closed' || r.bestPublicLb !== null)) {
    out.push('');
    out.push(...roundTable(v));
  }
  if (v.completion) {
    const k = v.completion;
    out.push('');
    out.push(
      k.bestCandidateId
        ? `completed (${k.reason}) after ${k.rounds} round(s): best ${k.bestCandidateId}` +
            `${k.bestRound ? ` (round ${k.bestRound})` : ''} — public LB ${fmt(k.bestPublicLb)}, private LB ` +
            `${fmt(k.bestPrivateLb)}`
        : `completed (${k.reason}) after ${k.rounds} round(s): no submission was scored`,
    );
  }
  return out;
}
