'use strict';
/* Pure reductions of a finished campaign's events and job intervals into the benchmarks' numbers. */
const { median, p90, unionLength } = require('./lib');

const TERMINAL = new Set(['JobSucceeded', 'JobFailed', 'JobCancelled']);
const candidateOf = (e) => e.data.candidateId ?? e.data.manifest?.candidateId ?? e.data.spec?.candidateId;

/** First event of each (type, key) and lists per type, for quick joins. */
function index(events) {
  const byType = new Map();
  for (const e of events) {
    if (!byType.has(e.type)) byType.set(e.type, []);
    byType.get(e.type).push(e);
  }
  const of = (t) => byType.get(t) || [];
  const firstBy = (t, key) => {
    const m = new Map();
    for (const e of of(t)) {
      const k = key(e);
      if (!m.has(k)) m.set(k, e);
    }
    return m;
  };
  return { of, firstBy };
}

/**
 * Latency of each step a candidate and a round go through, from the events' append times and the executor's
 * exact process times. Every row: { stage, n, median, p90, total } in ms.
 */
function stageLatencies(events, jobs, slots) {
  const ix = index(events);
  const rows = [];
  const add = (stage, xs, note = '') => {
    const v = xs.filter((x) => Number.isFinite(x));
    rows.push({ stage, n: v.length, median: median(v), p90: p90(v), total: v.reduce((a, b) => a + b, 0), note });
  };
  const roundStarted = ix.firstBy('RoundStarted', (e) => e.data.round);
  const forked = ix.firstBy('CandidateForked', (e) => e.data.candidateId);
  const requested = ix.firstBy('JobRequested', (e) => e.data.spec.jobId);
  const terminal = new Map();
  for (const e of events) if (TERMINAL.has(e.type) && !terminal.has(e.data.jobId)) terminal.set(e.data.jobId, e);
  const manifests = ix.firstBy('ManifestSubmitted', candidateOf);
  const started = events.find((e) => e.type === 'CampaignStarted');

  const rounds = [...roundStarted.keys()].sort((a, b) => a - b);
  add(
    'CampaignStarted → RoundStarted(1)',
    [roundStarted.get(1)?.time - started?.time],
    'start-up: constitution, substrate validation, planning',
  );
  add(
    'RoundStarted → every candidate forked',
    rounds.map((r) => {
      const fs = ix.of('CandidateForked').filter((e) => e.data.round === r);
      return Math.max(...fs.map((e) => e.time)) - roundStarted.get(r).time;
    }),
    'snapshot (round 1) + a sandbox per candidate',
  );
  add(
    'CandidateForked → first JobRequested',
    [...forked.values()].map((f) => {
      const first = ix.of('JobRequested').find((e) => e.data.spec.candidateId === f.data.candidateId);
      return first ? first.time - f.time : NaN;
    }),
    'worker picks the candidate up, edits the recipe (includes waiting for a worker slot)',
  );
  // A round's critical path to its first job: with one slot, everything before the first process start is idle.
  const firstOfRound = (r) => {
    const fs = ix.of('CandidateForked').filter((e) => e.data.round === r);
    const cands = new Set(fs.map((e) => e.data.candidateId));
    const firstJob = jobs.filter((j) => cands.has(j.candidateId)).sort((a, b) => a.start - b.start)[0];
    if (!firstJob) return null;
    const fork = forked.get(firstJob.candidateId);
    const ws = ix.of('WorkerStarted').find((e) => e.data.candidateId === firstJob.candidateId);
    const req = requested.get(firstJob.jobId);
    const appends = new Set(
      events
        .filter(
          (e) => ws && req && e.streamId === ws.streamId && e.position >= ws.position && e.position <= req.position,
        )
        .map((e) => e.appendedAt),
    ).size;
    return { fork, ws, req, firstJob, appends };
  };
  const firsts = rounds.map(firstOfRound).filter(Boolean);
  add(
    'RoundStarted → first job started (round start on the critical path)',
    firsts.map((f) => f.firstJob.start - roundStarted.get(f.fork.data.round).time),
    'the rows below together',
  );
  const snap = ix.of('SubstrateSnapshotted')[0];
  add(
    '  CampaignStarted → SubstrateSnapshotted',
    [snap && started ? snap.time - started.time : NaN],
    'round 1: the substrate copied and hashed',
  );
  add(
    '  RoundStarted → its candidate forked',
    firsts.map((f) => f.fork.time - roundStarted.get(f.fork.data.round).time),
    'snapshot (round 1), forks before it',
  );
  add(
    '  CandidateForked → WorkerStarted',
    firsts.map((f) => (f.ws ? f.ws.time - f.fork.time : NaN)),
    'relay → JetStream → worker consumer → open',
  );
  add(
    '  WorkerStarted → first JobRequested',
    firsts.map((f) => (f.ws && f.req ? f.req.time - f.ws.time : NaN)),
    `trace steps before the first job (${firsts.map((f) => f.appends).join('/')} appends)`,
  );
  add(
    '  JobRequested → process started',
    firsts.map((f) => (f.req ? f.firstJob.start - f.req.time : NaN)),
    'relay → dispatch → executor',
  );
  // Request → process start, only for jobs that had a free slot of their kind during the whole wait (fewer
  // same-kind jobs running than slots at every moment), so queueing behind busy slots — not overhead — is left out.
  const freeAt = (job) => {
    const t = requested.get(job.jobId)?.time;
    if (t == null || t > job.start) return false;
    const cap = job.gpu ? slots.gpu : slots.cpu;
    const others = jobs.filter((j) => j.gpu === job.gpu && j.jobId !== job.jobId && j.start < job.start && j.end > t);
    const points = [t, ...others.flatMap((j) => [j.start, j.end]).filter((x) => x >= t && x < job.start)];
    return points.every((x) => others.filter((j) => j.start <= x && j.end > x).length < cap);
  };
  const queued = ix.firstBy('JobQueued', (e) => e.data.jobId);
  const free = jobs.filter(freeAt);
  add(
    'JobRequested → process started (a slot free)',
    free.map((j) => j.start - requested.get(j.jobId).time),
    'the two rows below together',
  );
  add(
    '  JobRequested → JobQueued appended',
    free.map((j) => (queued.get(j.jobId)?.time ?? NaN) - requested.get(j.jobId).time),
    'outbox relay → JetStream → dispatch consumer → decide + append',
  );
  add(
    '  JobQueued appended → process started',
    free.map((j) => j.start - (queued.get(j.jobId)?.time ?? NaN)),
    'executor: record, slot, spawn',
  );
  add(
    'process exited → terminal event appended',
    jobs.map((j) => (terminal.get(j.jobId)?.time ?? NaN) - j.end),
    'executor report → dispatch appends JobSucceeded',
  );
  // Per candidate, the time from a job's terminal event to the next job of the same candidate being requested.
  const byCandidate = new Map();
  for (const j of jobs) {
    if (j.entrypoint === 'predict') continue;
    if (!byCandidate.has(j.candidateId)) byCandidate.set(j.candidateId, []);
    byCandidate.get(j.candidateId).push(j);
  }
  const reaction = { train: [], evaluate: [], 'prepare-data': [] };
  const lastToManifest = [];
  for (const [cand, list] of byCandidate) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prevEnd = terminal.get(list[i - 1].jobId)?.time;
      const req = requested.get(list[i].jobId)?.time;
      if (prevEnd != null && req != null && req >= prevEnd) reaction[list[i].entrypoint]?.push(req - prevEnd);
    }
    const m = manifests.get(cand);
    const lastEnd = Math.max(...list.map((j) => terminal.get(j.jobId)?.time ?? -Infinity));
    if (m && Number.isFinite(lastEnd)) lastToManifest.push(m.time - lastEnd);
  }
  add('job terminal → next train requested', reaction.train, 'worker reacts');
  add(
    'job terminal → next evaluate requested',
    reaction.evaluate,
    'worker → EvaluationRequested → VerifySandbox → evaluation',
  );
  add('last job terminal → ManifestSubmitted', lastToManifest, 'selection, manifest, frozen-path check');
  add(
    'last ManifestSubmitted → submissions requested',
    rounds.map((r) => {
      const ms = ix.of('ManifestSubmitted').filter((e) => (e.data.round ?? e.data.manifest?.round) === r);
      const subs = ix.of('SubmissionRequested').filter((e) => e.data.round === r);
      return subs.length && ms.length ? Math.max(...subs.map((e) => e.time)) - Math.max(...ms.map((e) => e.time)) : NaN;
    }),
    'orchestrator',
  );
  const subReq = ix.firstBy('SubmissionRequested', (e) => e.data.submissionId);
  add(
    'SubmissionRequested → predict job requested',
    [...subReq.values()].map((s) => (requested.get(`${s.data.submissionId}-predict`)?.time ?? NaN) - s.time),
    'leaderboard accepts (quota)',
  );
  const scored = ix.firstBy('LeaderboardScored', (e) => e.data.submissionId);
  add(
    'predict terminal → LeaderboardScored',
    [...scored.values()].map((s) => s.time - (terminal.get(`${s.data.submissionId}-predict`)?.time ?? NaN)),
    'leaderboard scores the public half (one score process); the private half is scored after',
  );
  const per = (from, to, fromPick = 'max') =>
    rounds.map((r) => {
      const a = ix.of(from).filter((e) => e.data.round === r);
      const b = ix.of(to).find((e) => e.data.round === r);
      if (!a.length || !b) return NaN;
      const t = fromPick === 'max' ? Math.max(...a.map((e) => e.time)) : Math.min(...a.map((e) => e.time));
      return b.time - t;
    });
  add(
    'last round result → RoundEvidenceRecorded',
    rounds.map((r) => {
      const ends = [...ix.of('LeaderboardScored'), ...ix.of('SubmissionRejected')].filter((e) => e.data.round === r);
      const ev = ix.of('RoundEvidenceRecorded').find((e) => e.data.round === r);
      return ends.length && ev ? ev.time - Math.max(...ends.map((e) => e.time)) : NaN;
    }),
    'collector',
  );
  add('RoundEvidenceRecorded → PolicyRevised', per('RoundEvidenceRecorded', 'PolicyRevised'), 'meta-policy');
  add('PolicyRevised → RoundClosed', per('PolicyRevised', 'RoundClosed'), 'orchestrator');
  add(
    'RoundClosed → next RoundStarted',
    rounds
      .slice(0, -1)
      .map((r) => roundStarted.get(r + 1).time - ix.of('RoundClosed').find((e) => e.data.round === r).time),
    'orchestrator',
  );
  const audit = ix.of('FinalAuditStarted')[0];
  const done = ix.of('CampaignCompleted')[0];
  add('FinalAuditStarted → CampaignCompleted', [done && audit ? done.time - audit.time : NaN], 'unseal private board');
  return rows;
}

/** Idle time of the job system split by phase: before the first job, between jobs, after the last job. */
function idleSplit(t0, tEnd, jobs) {
  if (!jobs.length) return { before: tEnd - t0, between: 0, after: 0 };
  const first = Math.min(...jobs.map((j) => j.start));
  const last = Math.max(...jobs.map((j) => j.end));
  const between = last - first - unionLength(jobs);
  return { before: first - t0, between, after: tEnd - last };
}

module.exports = { stageLatencies, idleSplit, TERMINAL };

/**
 * Splits the time during which no job ran (between StartCampaign and CampaignCompleted) by where in a round it
 * fell: before a round's first job (round start: forks, workers opening candidates, first requests), after its
 * last candidate job (submissions, scoring, evidence, policy, close — the round's serial tail), or in between
 * (job-to-job latency that the other candidates' work did not hide). Returns ms per phase.
 */
function idleByPhase(t0, tEnd, jobs, events) {
  const rounds = events.filter((e) => e.type === 'RoundStarted').map((e) => ({ round: e.data.round, start: e.time }));
  rounds.sort((a, b) => a.round - b.round);
  const marks = [];
  for (const r of rounds) {
    const js = jobs.filter((j) => j.round === r.round && j.entrypoint !== 'predict');
    if (!js.length) continue;
    marks.push({
      round: r.round,
      firstStart: Math.min(...js.map((j) => j.start)),
      lastEnd: Math.max(...js.map((j) => j.end)),
    });
  }
  // idle intervals on the job timeline
  const iv = jobs.map((j) => [j.start, j.end]).sort((a, b) => a[0] - b[0]);
  const gaps = [];
  let cursor = t0;
  for (const [a, b] of iv) {
    if (a > cursor) gaps.push([cursor, a]);
    cursor = Math.max(cursor, b);
  }
  if (tEnd > cursor) gaps.push([cursor, tEnd]);
  const out = { roundStart: 0, within: 0, roundTail: 0 };
  // a point belongs to: round start if before that round's first job; within if between first job and last
  // candidate job of a round; round tail otherwise (after a round's last candidate job, before the next's first).
  const classify = (t) => {
    for (const m of marks) {
      if (t < m.firstStart) return 'roundStart';
      if (t <= m.lastEnd) return 'within';
    }
    return 'roundTail';
  };
  const cuts = marks.flatMap((m) => [m.firstStart, m.lastEnd]);
  for (const [a, b] of gaps) {
    const pts = [a, ...cuts.filter((c) => c > a && c < b), b];
    for (let i = 1; i < pts.length; i++) {
      const mid = (pts[i - 1] + pts[i]) / 2;
      const k = classify(mid);
      // a gap after round r's last job but before round r+1's first job counts as r's tail, except the
      // stretch between RoundStarted(r+1) and its first job, which is round start
      out[k] += pts[i] - pts[i - 1];
    }
  }
  // move the part of each "round start" gap that precedes RoundStarted (i.e. the previous round's tail) over
  for (let i = 1; i < marks.length; i++) {
    const rs = rounds.find((r) => r.round === marks[i].round)?.start;
    const prevEnd = marks[i - 1].lastEnd;
    if (rs == null || rs <= prevEnd) continue;
    const tailPart = gaps.reduce((s, [a, b]) => s + Math.max(0, Math.min(b, rs) - Math.max(a, prevEnd)), 0);
    out.roundStart -= tailPart;
    out.roundTail += tailPart;
  }
  return out;
}

module.exports.idleByPhase = idleByPhase;

/**
 * Slot handovers: on each slot, the time from a job's exit to the next job's start, counted only when that next job
 * had already been requested (it was waiting), i.e. the pure dispatch cost of reusing a slot. Returns gaps in ms.
 */
function handovers(jobs, requestedAt, filter = () => true) {
  const bySlot = new Map();
  for (const j of jobs.filter(filter)) {
    if (!bySlot.has(j.slot)) bySlot.set(j.slot, []);
    bySlot.get(j.slot).push(j);
  }
  const gaps = [];
  for (const list of bySlot.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const req = requestedAt.get(list[i].jobId);
      if (req != null && req <= list[i - 1].end) gaps.push(list[i].start - list[i - 1].end);
    }
  }
  return gaps;
}

module.exports.handovers = handovers;
