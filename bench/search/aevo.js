'use strict';
/*
 * aevo's arm: full campaigns through bench/campaign/lib.js (every service as its own process, PostgreSQL, NATS,
 * heuristic workers, rule-based meta-policy), one stack per surface and one campaign per seed on it; then what the
 * benchmark needs is read back from the campaign's log.
 */
const fs = require('node:fs');
const path = require('node:path');
const L = require('../campaign/lib.js');
const { applyRecipeChanges } = require('@aevo/policy-engine');
const { mergeRecipe } = require('@aevo/substrate-kit');

const HAS_DECOUPLING_EVENTS = typeof require('@aevo/contracts').DecouplingConfirmed === 'object';
const CONSTITUTION = path.join(L.ROOT, 'deploy/constitutions/default.yaml');
const DEFAULT_AXES = [
  'learning-rate',
  'schedule',
  'warmup',
  'steps',
  'clipping',
  'lora-capacity',
  'data-mix',
  'augmentation',
  'synthetic-data',
  'checkpoint-selection',
];

const sameJson = (a, b) => JSON.stringify(canon(a)) === JSON.stringify(canon(b));
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canon(v[k])]),
    );
  return v;
}

/** Candidate ids named by a decoupling event, whatever its exact shape (the explicit events are still landing). */
function candidatesOf(data) {
  const ids = new Set();
  for (const k of ['candidateId', 'candidate']) if (typeof data?.[k] === 'string') ids.add(data[k]);
  for (const k of ['candidateIds', 'candidates', 'implicated'])
    if (Array.isArray(data?.[k])) for (const x of data[k]) ids.add(typeof x === 'string' ? x : x?.candidateId);
  // { round, hypothesis: DecouplingHypothesis }: the implicated candidate is the hypothesis's suspect
  if (typeof data?.hypothesis?.suspectCandidateId === 'string') ids.add(data.hypothesis.suspectCandidateId);
  ids.delete(undefined);
  return [...ids];
}

/**
 * What the benchmark needs from one campaign's log:
 * - final: the last PolicyRevised policy's standing recipe (an overlay merged onto the substrate's recipe.yaml, as
 *   the substrate service's fork does: today it is the full recipe, so the merge changes nothing) and criterion;
 * - promotions: every revision whose standing recipe differs from the previous revision's;
 * - candidates: each trained candidate's full recipe (the round's standing recipe + its recipeChanges);
 * - confirmations: DecouplingConfirmed events when the log has any, else every round whose evidence flags proxy
 *   decoupling (calibration.proxyDecoupling.flagged) with its implicated candidates; DecouplingRefuted counted;
 * - submissionsUsed: SubmissionRequested events (also: accepted, scored, rejected).
 */
function analyseCampaign(events, baseRecipe) {
  const full = (standing) => mergeRecipe(baseRecipe, standing);
  const started = events.find((e) => e.type === 'CampaignStarted');
  if (!started) throw new Error('no CampaignStarted in the log');
  const policies = new Map([[started.data.initialPolicy.revision, started.data.initialPolicy]]);
  const revisions = [{ round: 0, policy: started.data.initialPolicy }];
  for (const e of events.filter((x) => x.type === 'PolicyRevised')) {
    policies.set(e.data.policy.revision, e.data.policy);
    revisions.push({ round: e.data.round, policy: e.data.policy });
  }
  const last = revisions[revisions.length - 1].policy;
  const promotions = [];
  for (let i = 1; i < revisions.length; i++) {
    const before = revisions[i - 1].policy;
    const after = revisions[i].policy;
    if (!sameJson(before.standingRecipe, after.standingRecipe))
      promotions.push({
        round: revisions[i].round,
        before: full(before.standingRecipe),
        after: full(after.standingRecipe),
        criterionBefore: before.selectionCriterion,
        criterionAfter: after.selectionCriterion,
      });
  }
  const roundPolicy = new Map(
    events.filter((e) => e.type === 'RoundStarted').map((e) => [e.data.round, policies.get(e.data.policyRevision)]),
  );
  const candidates = [];
  for (const e of events.filter((x) => x.type === 'RoundEvidenceRecorded')) {
    const policy = roundPolicy.get(e.data.round) || last;
    for (const s of e.data.evidence.candidateSummaries) {
      if (s.status === 'missing') continue;
      candidates.push({
        id: s.candidateId,
        round: e.data.round,
        isAnchor: s.isAnchor,
        axis: s.axis,
        status: s.status,
        recipe: full(applyRecipeChanges(policy.standingRecipe, s.recipeChanges || [])),
        changes: s.recipeChanges,
        dev: s.dev ? s.dev.overall : null,
        publicLb: s.publicLb,
      });
    }
  }
  // The hypothesis mechanism (DecouplingSuspected → Probed → Confirmed | Refuted) is present when the built contracts
  // define it or the log has any of its events; then only DecouplingConfirmed is a confirmation. Before it, every
  // round whose evidence flags proxy decoupling is one.
  const hypothesisMode =
    HAS_DECOUPLING_EVENTS || events.some((e) => /^Decoupling(Suspected|Probed|Confirmed|Refuted)$/.test(e.type));
  const explicit = events.filter((e) => e.type === 'DecouplingConfirmed');
  const refuted = events.filter((e) => e.type === 'DecouplingRefuted').length;
  const domainsOf = (d) => d.domains || (d.domain ? [d.domain] : d.hypothesis?.domain ? [d.hypothesis.domain] : []);
  const confirmations = hypothesisMode
    ? explicit.map((e) => ({
        source: 'DecouplingConfirmed',
        round: e.data.round ?? null,
        candidates: candidatesOf(e.data),
        domains: domainsOf(e.data),
      }))
    : events
        .filter((e) => e.type === 'RoundEvidenceRecorded' && e.data.evidence.calibration.proxyDecoupling.flagged)
        .map((e) => ({
          source: 'proxyDecoupling.flagged',
          round: e.data.round,
          candidates: e.data.evidence.calibration.proxyDecoupling.candidates,
          domains: e.data.evidence.calibration.proxyDecoupling.domains,
        }));
  const count = (t) => events.filter((e) => e.type === t).length;
  // Runs that measured nothing new: a non-anchor run whose full recipe equals an earlier non-anchor run of its round
  // (every non-anchor run of a round trains on the same paired seed), and non-anchor runs that changed nothing.
  const seenInRound = new Set();
  let duplicateRuns = 0;
  for (const c of candidates) {
    if (c.isAnchor) continue;
    const k = `${c.round}:${JSON.stringify(canon(c.recipe))}`;
    if (seenInRound.has(k)) duplicateRuns++;
    else seenInRound.add(k);
  }
  const unchangedRuns = candidates.filter((c) => !c.isAnchor && (c.changes || []).length === 0).length;
  return {
    duplicateRuns,
    unchangedRuns,
    nonAnchorRuns: candidates.filter((c) => !c.isAnchor).length,
    final: { recipe: full(last.standingRecipe), criterion: last.selectionCriterion, revision: last.revision },
    promotions,
    candidates,
    confirmations,
    confirmationSource: hypothesisMode ? 'DecouplingConfirmed' : 'proxyDecoupling.flagged',
    suspected: events.filter((e) => e.type === 'DecouplingSuspected').length,
    refutations: refuted,
    submissionsUsed: count('SubmissionRequested'),
    submissions: {
      requested: count('SubmissionRequested'),
      accepted: count('SubmissionAccepted'),
      scored: count('LeaderboardScored'),
      rejected: count('SubmissionRejected'),
    },
    trainedCandidates: candidates.length,
    failedCandidates: candidates.filter((c) => c.status !== 'completed').length,
    deadEnds: last.deadEnds.length,
    // what the meta-policy said each round (to read why it did or did not promote)
    revisions: events
      .filter((e) => e.type === 'PolicyRevised')
      .map((e) => ({
        round: e.data.round,
        revision: e.data.policy.revision,
        proposer: e.data.proposer,
        changes: e.data.changes,
        rationale: String(e.data.policy.rationale || '').slice(0, 1500),
      })),
  };
}

/**
 * Runs one campaign per seed on one stack (campaign ids differ; the orchestrator runs them one after the other).
 * `onCampaign(record)` is called after each. Returns the records.
 */
async function runAevoSurface({
  surface,
  surfaceDir,
  baseRecipe,
  seeds,
  rounds,
  workers,
  submissions,
  size,
  axes,
  keep,
  stallSeconds = 300,
  log = () => {},
  onCampaign = () => {},
}) {
  const run = L.newRun(`search-${surface}`, keep);
  const substratePath = path.join(run.dir, 'substrate');
  fs.cpSync(surfaceDir, substratePath, { recursive: true, filter: (p) => !/(^|\/)(node_modules|\.git)(\/|$)/.test(p) });
  let stack;
  const out = [];
  try {
    const t = Date.now();
    // The hidden split is derived from the board's secret and the campaign id: both fixed per (surface, seed), so a
    // seed meets the same board in every invocation (with the run id in either, repeat runs swung by 0.07).
    stack = await L.startStack(run, {
      cpuSlots: 2,
      workerConcurrency: Math.min(workers, 8),
      env: { AEVO_LEADERBOARD_SECRET: `bench-search-${surface}-0123456789` },
    });
    log(`aevo ${surface}: stack up in ${((Date.now() - t) / 1000).toFixed(1)} s (run ${run.id}, ${run.dir})`);
    for (const seed of seeds) {
      const campaignId = `search-${surface}-s${seed}`; // one stack schema per invocation: unique there
      const config = {
        campaignId,
        substratePath,
        constitutionPath: CONSTITUTION,
        size,
        rounds,
        workersPerRound: workers,
        axes: axes || DEFAULT_AXES,
        seed,
        workerKind: 'heuristic',
        metaKind: 'rules',
        budgets: { gpuSeconds: 1e9, llmTokens: 0, submissionsPerRound: submissions },
      };
      const t0 = Date.now();
      let lastRound = 0;
      let events;
      try {
        ({ events } = await L.runCampaign(run, stack, config, {
          stallMs: stallSeconds * 1000,
          onProgress: (all, fresh) => {
            for (const e of fresh)
              if (e.type === 'RoundClosed' && e.data.round > lastRound) {
                lastRound = e.data.round;
                log(
                  `aevo ${surface} seed ${seed}: round ${lastRound}/${rounds} closed, best public LB ` +
                    `${e.data.bestPublicLb ?? '—'} (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
                );
              }
          },
        }));
      } catch (e) {
        // one failed campaign (a stall, a fatal event) is recorded and the sweep goes on; a dead service ends it
        log(`aevo ${surface} seed ${seed}: campaign FAILED: ${e.message.split('\n')[0].slice(0, 400)}`);
        const rec = { method: 'aevo', seed, campaignId, wallMs: Date.now() - t0, failed: e.message.slice(0, 2000) };
        out.push(rec);
        await onCampaign(rec);
        if (stack.failure) throw e;
        continue;
      }
      const rec = {
        method: 'aevo',
        seed,
        campaignId,
        wallMs: Date.now() - t0,
        events: events.length,
        ...analyseCampaign(events, baseRecipe),
      };
      out.push(rec);
      await onCampaign(rec);
    }
  } finally {
    await L.cleanup(run, stack);
  }
  return out;
}

module.exports = { runAevoSurface, analyseCampaign, DEFAULT_AXES };
