import {
  AXIS_CATEGORY,
  CampaignCompleted,
  CampaignStarted,
  CandidateForked,
  candidateIdOf,
  CheckpointEvaluated,
  CheckpointSelected,
  contentHash,
  createEvent,
  DecouplingConfirmed,
  DecouplingProbed,
  DecouplingSuspected,
  EvaluationStarted,
  FinalAuditStarted,
  JobFailed,
  JobRequested,
  JobStarted,
  JobSucceeded,
  LeaderboardScored,
  ManifestSubmitted,
  PolicyRevised,
  PrivateLeaderboardUnsealed,
  RecipeChanged,
  RoundClosed,
  RoundStarted,
  seededRandom,
  SubmissionAccepted,
  SubmissionRequested,
  TraceStepRecorded,
  WorkerStarted,
  type Axis,
  type DecouplingHypothesis,
  type EventDefinition,
  type EventEnvelope,
  type PrescribedRun,
  type RecipeChange,
  type RollingPolicy,
  type ServiceName,
} from '@aevo/contracts';
import type { z } from 'zod';

export interface SyntheticCampaignOptions {
  campaignId?: string;
  rounds?: number;
  /** Candidates per round, the anchor included (at least 3). */
  workersPerRound?: number;
  seed?: number;
  /** Tool calls per worker trace (each an intent and an outcome event). */
  traceSteps?: number;
}

const AXES: Axis[] = ['learning-rate', 'schedule', 'warmup', 'data-mix', 'synthetic-data'];
const DOMAINS = ['cipher', 'equation', 'gravity', 'numeral', 'unit_conversion'];
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * A synthetic campaign log with every kind of record the views read — traces, jobs (one failing), checkpoints and their
 * selection, submissions, policy revisions with promotions, dead ends and a retired axis, and a decoupling suspected
 * in round 2 and confirmed by two probes in round 3 — each event built through its contract schema (`createEvent`).
 * Its scores come from a seeded toy response surface (synthetic equation data lifts dev, not the leaderboard); the
 * policy revisions follow simple fixed rules, not the policy engine. For view tests and the views benchmark.
 */
export function syntheticCampaignLog(opts: SyntheticCampaignOptions = {}): EventEnvelope[] {
  const campaignId = opts.campaignId ?? 'synthetic';
  const rounds = opts.rounds ?? 4;
  const n = Math.max(3, opts.workersPerRound ?? 5);
  const seed = opts.seed ?? 1;
  const traceSteps = opts.traceSteps ?? 4;
  const rnd = seededRandom(seed);
  const out: EventEnvelope[] = [];
  const ev = <D extends EventDefinition>(def: D, data: z.input<D['data']>, streamId: string, source: ServiceName) => {
    out.push(createEvent(def, data, { campaignId, streamId, source }) as EventEnvelope);
  };
  const campaignStream = `campaign-${campaignId}`;
  const snapshotId = contentHash(`snapshot ${campaignId}`);

  let policy: RollingPolicy = {
    revision: 0,
    forRound: 1,
    standingRecipe: {
      train: { lr: 0.001, warmup_steps: 20, schedule: 'cosine' },
      data: { mix: { equation: 1, gravity: 1 }, synthetic: { count: 0 } },
    },
    activeCategory: AXIS_CATEGORY[AXES[0]],
    activeAxes: AXES,
    retiredAxes: [],
    deadEnds: [],
    promotionThreshold: 0.01,
    noiseBand: { devStd: 0.005, lbStd: 0.006, seeds: 0, round: 0 },
    anchorSeeds: 2,
    selectionCriterion: { kind: 'mean' },
    objective: 'raise-dev-and-lb',
    evidenceRules: [],
    bestPublicLb: null,
    plateauRounds: 0,
    rationale: 'initial policy',
  };
  ev(
    CampaignStarted,
    {
      config: {
        campaignId,
        name: `synthetic ${rounds}×${n}`,
        substratePath: 'substrate/simulated',
        constitutionPath: 'deploy/constitutions/default.yaml',
        size: 'tiny',
        rounds,
        workersPerRound: n,
        axes: AXES,
        anchorSeeds: 2,
        seed,
        workerKind: 'heuristic',
        metaKind: 'rules',
        leaderboard: 'local',
        executor: 'local',
        budgets: { gpuSeconds: 400 * rounds * n, llmTokens: 2000 * rounds * n, submissionsPerRound: 4 },
      },
      constitutionSha256: contentHash('synthetic constitution'),
      constitution: {
        name: 'synthetic',
        version: '1',
        text: 'The leaderboard is authoritative.',
        rules: {
          leaderboardAuthoritative: true,
          plateauRoundsBeforeRotation: 2,
          deadEndRegistryOnlyGrows: true,
          promotionRequiresLbGain: true,
          minThresholdNoiseMultiple: 2,
          decouplingNoiseMultiple: 2,
          noiseStdFloor: 0.005,
        },
      },
      initialPolicy: policy,
    },
    campaignStream,
    'orchestrator',
  );

  let base = { dev: 0.5, lb: 0.45 };
  let hypothesis: DecouplingHypothesis | null = null;
  const unsealed: Array<{
    submissionId: string;
    candidateId: string;
    round: number;
    publicScore: number;
    privateScore: number;
  }> = [];
  let best: { candidateId: string; round: number; submissionId: string; publicLb: number; privateLb: number } | null =
    null;
  let spent = { gpuSeconds: 0, llmTokens: 0 };

  for (let round = 1; round <= rounds; round++) {
    const probing: boolean =
      hypothesis !== null && hypothesis.status === 'suspected' && round === hypothesis.suspectedRound + 1;
    const planned = Array.from({ length: n }, (_, index) => {
      const candidateId = candidateIdOf(campaignId, round, index);
      if (index === 0)
        return {
          candidateId,
          index,
          axis: 'baseline' as Axis,
          isAnchor: true,
          seeds: [seed * 100 + round, seed * 100 + round + 1],
        };
      let prescribed: PrescribedRun | undefined;
      if (probing && hypothesis && index <= 2)
        prescribed = {
          kind: 'probe',
          of: hypothesis.id,
          role: index === 1 ? 'pro-proxy' : 'down-weight',
          changes: index === 1 ? hypothesis.suspectChanges : [{ path: 'data.mix.equation', from: 1, to: 0.5 }],
          hypothesis:
            index === 1
              ? 'repeating the suspect move raises dev, not the leaderboard'
              : 'down-weighting equation lowers dev, not the leaderboard',
        };
      const axis: Axis = prescribed
        ? index === 1
          ? 'synthetic-data'
          : 'data-mix'
        : policy.activeAxes[(index - 1 + round) % policy.activeAxes.length];
      return {
        candidateId,
        index,
        axis,
        isAnchor: false,
        seeds: [seed * 100 + round + index],
        ...(prescribed ? { prescribed } : {}),
      };
    });
    ev(
      RoundStarted,
      {
        round,
        policyRevision: policy.revision,
        policySha256: contentHash(policy),
        candidates: planned,
        seed: seed + round,
      },
      campaignStream,
      'orchestrator',
    );

    const results: Array<{
      candidateId: string;
      axis: Axis;
      isAnchor: boolean;
      dev: number | null;
      lb: number;
      domains: Record<string, number>;
      changes: RecipeChange[];
      checkpoint: string;
    }> = [];
    for (const c of planned) {
      const stream = `candidate-${c.candidateId}`;
      const sandboxPath = `/sandboxes/${c.candidateId}`;
      ev(
        CandidateForked,
        {
          round,
          candidateId: c.candidateId,
          index: c.index,
          axis: c.axis,
          isAnchor: c.isAnchor,
          seeds: c.seeds,
          snapshotId,
          sandboxPath,
          policyRevision: policy.revision,
          ...(c.prescribed ? { prescribed: c.prescribed } : {}),
        },
        `fork-${c.candidateId}`,
        'substrate',
      );
      ev(
        WorkerStarted,
        {
          candidateId: c.candidateId,
          round,
          workerId: `worker-${c.index % 4}`,
          agentKind: 'heuristic',
          resumedFromStep: null,
        },
        stream,
        'worker',
      );
      const changes: RecipeChange[] = c.isAnchor
        ? []
        : c.prescribed
          ? c.prescribed.changes
          : proposeChange(c.axis, policy, rnd);
      // The toy surface: each axis has an effect on dev and on the leaderboard; synthetic data lifts equation dev only.
      const effect = axisEffect(c.axis, changes);
      const noise = () => (rnd() - 0.5) * 0.01;
      const steps = [100, 200];
      const checkpoints = c.seeds.flatMap((s) =>
        steps.map((step) => {
          const overall = r3(clamp01(base.dev + effect.dev + noise() - (step === 100 ? 0.01 : 0)));
          const domains = Object.fromEntries(
            DOMAINS.map((d) => [
              d,
              r3(clamp01(overall + (d === 'equation' ? effect.equation : 0) + (rnd() - 0.5) * 0.04)),
            ]),
          );
          return {
            checkpoint: `runs/seed-${s}/ckpt/step-${String(step).padStart(6, '0')}`,
            step,
            seed: s,
            dev: { overall, domains },
          };
        }),
      );
      const failing = !c.isAnchor && !c.prescribed && rnd() < 0.08;
      for (let step = 0; step < traceSteps; step++) {
        const tool =
          step === 0 ? 'edit_recipe' : step === 1 ? 'train' : step === traceSteps - 1 ? 'submit_manifest' : 'evaluate';
        ev(
          TraceStepRecorded,
          {
            candidateId: c.candidateId,
            step,
            phase: 'intent',
            tool,
            input: step === 0 ? { changes } : { seed: c.seeds[0] },
          },
          stream,
          'worker',
        );
        ev(
          TraceStepRecorded,
          {
            candidateId: c.candidateId,
            step,
            phase: 'outcome',
            tool,
            input: null,
            output: failing && step === 1 ? { error: 'loss diverged' } : { ok: true },
            ok: !(failing && step === 1),
          },
          stream,
          'worker',
        );
      }
      if (changes.length > 0)
        ev(
          RecipeChanged,
          {
            candidateId: c.candidateId,
            file: 'recipe.yaml',
            changes,
            diff: changes
              .map((ch) => `-${ch.path}: ${JSON.stringify(ch.from)}\n+${ch.path}: ${JSON.stringify(ch.to)}`)
              .join('\n'),
          },
          stream,
          'worker',
        );
      let gpuSeconds = 0;
      const job = (jobId: string, entrypoint: 'train' | 'evaluate', ok: boolean, streamId: string) => {
        const wall = r3(30 + 60 * rnd());
        gpuSeconds += wall;
        ev(
          JobRequested,
          {
            spec: {
              jobId,
              candidateId: c.candidateId,
              round,
              entrypoint,
              sandboxPath,
              argv: [entrypoint],
              resources: { cpu: 1, memoryMiB: 512, gpu: 1 },
              timeoutSeconds: 600,
              isolation: { snapshotId, outputs: ['runs'], inputs: [] },
            },
          },
          streamId,
          'worker',
        );
        ev(
          JobStarted,
          {
            jobId,
            candidateId: c.candidateId,
            executor: 'local',
            slot: 'slot-0',
            handle: '4242',
            attempt: 1,
            isolation: 'bubblewrap',
          },
          `job-${jobId}`,
          'dispatch',
        );
        const terminal = {
          jobId,
          candidateId: c.candidateId,
          round,
          gpuSeconds: wall,
          wallSeconds: wall,
          logPath: null,
          executor: 'local' as const,
          gpuCount: 1,
          budgetUnit: 'gpu-seconds' as const,
        };
        if (ok)
          ev(
            JobSucceeded,
            { ...terminal, exitCode: 0, logTail: `step 200 loss 0.${Math.floor(rnd() * 900 + 100)}\nsaved checkpoint` },
            `job-${jobId}`,
            'dispatch',
          );
        else
          ev(
            JobFailed,
            {
              ...terminal,
              exitCode: 1,
              reason: 'diverged',
              message: 'loss became NaN at step 140',
              logTail: 'step 140 loss nan\nDIVERGED',
            },
            `job-${jobId}`,
            'dispatch',
          );
      };
      job(`${c.candidateId}-train`, 'train', !failing, stream);
      let chosen: (typeof checkpoints)[number] | null = null;
      if (!failing) {
        const requestId = `${c.candidateId}-eval`;
        const evalStream = `evaluation:${campaignId}:${requestId}`;
        ev(
          EvaluationStarted,
          {
            requestId,
            candidateId: c.candidateId,
            round,
            sandboxPath,
            checkpoints: checkpoints.map((k) => k.checkpoint),
            seed: c.seeds[0],
            criterion: policy.selectionCriterion,
            verifiedBy: 'substrate-kit',
          },
          evalStream,
          'evaluation',
        );
        job(`${requestId}-eval-0`, 'evaluate', true, evalStream);
        for (const k of checkpoints)
          ev(
            CheckpointEvaluated,
            {
              requestId,
              candidateId: c.candidateId,
              round,
              checkpoint: k.checkpoint,
              step: k.step,
              seed: k.seed,
              split: 'dev',
              dev: k.dev,
              n: 200,
              jobId: `${requestId}-eval-0`,
            },
            evalStream,
            'evaluation',
          );
        const ofSeed = checkpoints.filter((k) => k.seed === c.seeds[0]);
        chosen = ofSeed.reduce((a, b) => (b.dev.overall >= a.dev.overall ? b : a));
        ev(
          CheckpointSelected,
          {
            requestId,
            candidateId: c.candidateId,
            round,
            checkpoint: chosen.checkpoint,
            step: chosen.step,
            criterion: policy.selectionCriterion,
            score: chosen.dev.overall,
            dev: chosen.dev,
            considered: ofSeed.length,
          },
          evalStream,
          'evaluation',
        );
      }
      spent = { gpuSeconds: spent.gpuSeconds + gpuSeconds, llmTokens: spent.llmTokens };
      ev(
        ManifestSubmitted,
        {
          candidateId: c.candidateId,
          round,
          manifest: {
            campaignId,
            round,
            candidateId: c.candidateId,
            axis: c.axis,
            isAnchor: c.isAnchor,
            status: chosen ? 'completed' : 'failed',
            hypothesis: c.isAnchor
              ? 'standing recipe, several seeds'
              : c.prescribed
                ? c.prescribed.hypothesis
                : `change ${changes.map((x) => x.path).join(', ') || 'nothing'}`,
            recipeChanges: changes,
            recipeDiff: changes
              .map(
                (ch) =>
                  `--- a/recipe.yaml\n+++ b/recipe.yaml\n-${ch.path}: ${JSON.stringify(ch.from)}\n+${ch.path}: ${JSON.stringify(ch.to)}`,
              )
              .join('\n'),
            filesChanged: changes.length ? ['recipe.yaml'] : [],
            seeds: c.seeds,
            checkpoints: chosen ? checkpoints : [],
            chosenCheckpoint: chosen
              ? {
                  checkpoint: chosen.checkpoint,
                  seed: chosen.seed,
                  criterion: policy.selectionCriterion.kind,
                  reason: 'best dev overall of its seed',
                  dev: chosen.dev,
                }
              : null,
            failureModes: chosen ? [] : [{ kind: 'diverged', detail: 'loss became NaN at step 140', step: 1 }],
            cost: {
              gpuSeconds: r3(gpuSeconds),
              inputTokens: 0,
              outputTokens: 0,
              toolCalls: traceSteps,
              jobs: chosen ? 2 : 1,
            },
            traceLength: traceSteps * 2,
            policyRevision: policy.revision,
            agentKind: 'heuristic',
          },
        },
        stream,
        'worker',
      );
      if (chosen)
        results.push({
          candidateId: c.candidateId,
          axis: c.axis,
          isAnchor: c.isAnchor,
          dev: chosen.dev.overall,
          lb: r3(clamp01(base.lb + effect.lb + noise())),
          domains: chosen.dev.domains,
          changes,
          checkpoint: chosen.checkpoint,
        });
    }

    // Submissions: the anchor and the two explorers with the best dev (in a probing round: the probes and the best other).
    const anchor = results.find((x) => x.isAnchor);
    const explorers = results
      .filter((x) => !x.isAnchor)
      .sort((a, b) => (b.dev ?? 0) - (a.dev ?? 0) || a.candidateId.localeCompare(b.candidateId));
    const probeIds = new Set(planned.filter((c) => c.prescribed).map((c) => c.candidateId));
    const probes = explorers.filter((x) => probeIds.has(x.candidateId));
    const submitted: typeof results = [
      ...(anchor ? [anchor] : []),
      ...probes,
      ...explorers.filter((x) => !probeIds.has(x.candidateId)).slice(0, probing ? 1 : 2),
    ];
    let roundBest: number | null = null;
    submitted.forEach((x, k) => {
      const submissionId = `${x.candidateId}-s${k}`;
      ev(
        SubmissionRequested,
        {
          round,
          submissionId,
          candidateId: x.candidateId,
          checkpoint: x.checkpoint,
          sandboxPath: `/sandboxes/${x.candidateId}`,
          reason: x.isAnchor ? 'anchor' : 'top dev',
        },
        campaignStream,
        'orchestrator',
      );
      ev(
        SubmissionAccepted,
        {
          submissionId,
          candidateId: x.candidateId,
          round,
          board: 'local',
          externalRef: null,
          quotaUsed: k + 1,
          quotaLimit: 4,
        },
        `submission-${submissionId}`,
        'leaderboard',
      );
      ev(
        LeaderboardScored,
        { submissionId, candidateId: x.candidateId, round, publicScore: x.lb, publicDomains: null },
        `submission-${submissionId}`,
        'leaderboard',
      );
      const privateScore = r3(clamp01(x.lb - 0.01 + 0.02 * rnd()));
      unsealed.push({ submissionId, candidateId: x.candidateId, round, publicScore: x.lb, privateScore });
      roundBest = roundBest === null ? x.lb : Math.max(roundBest, x.lb);
      if (!best || x.lb > best.publicLb)
        best = { candidateId: x.candidateId, round, submissionId, publicLb: x.lb, privateLb: privateScore };
    });

    // Decoupling: the first synthetic-data explorer whose dev gain did not reach the leaderboard becomes a suspect.
    const evidenceSha256 = contentHash(`evidence ${campaignId} ${round}`);
    const metaStream = `meta-policy-${campaignId}-r${round}`;
    if (!hypothesis && anchor && round < rounds) {
      const suspect: (typeof results)[number] | undefined = submitted.find(
        (x) => x.axis === 'synthetic-data' && x.dev !== null && anchor.dev !== null && x.dev - anchor.dev > 0.02,
      );
      if (suspect && anchor.dev !== null && suspect.dev !== null) {
        hypothesis = {
          id: `decoupling-equation-r${round}`,
          domain: 'equation',
          status: 'suspected',
          suspectedRound: round,
          suspectCandidateId: suspect.candidateId,
          suspectAxis: suspect.axis,
          suspectChanges: suspect.changes,
          suspectDevDelta: r3(suspect.dev - anchor.dev),
          suspectLbDelta: r3(suspect.lb - anchor.lb),
          probes: [],
          decidedRound: null,
          evidence: [`round ${round}: ${suspect.candidateId} raised dev equation, the leaderboard did not follow`],
        };
        ev(DecouplingSuspected, { round, hypothesis }, metaStream, 'meta-policy');
      }
    } else if (hypothesis && probing && anchor) {
      const probes = planned
        .filter((c) => c.prescribed)
        .map((c) => {
          const x = results.find((r) => r.candidateId === c.candidateId);
          return {
            candidateId: c.candidateId,
            role: c.prescribed?.role ?? 'pro-proxy',
            round,
            devDelta: x && x.dev !== null && anchor.dev !== null ? r3(x.dev - anchor.dev) : null,
            domainDevDelta: x ? r3(x.domains.equation - anchor.domains.equation) : null,
            lbDelta: x ? r3(x.lb - anchor.lb) : null,
            verdict: 'as-predicted' as const,
          };
        });
      hypothesis = {
        ...(hypothesis as DecouplingHypothesis),
        status: 'probing',
        probes,
        evidence: [...hypothesis.evidence, `round ${round}: both probes as predicted`],
      };
      ev(DecouplingProbed, { round, hypothesis }, metaStream, 'meta-policy');
      hypothesis = { ...hypothesis, status: 'confirmed', decidedRound: round };
      ev(DecouplingConfirmed, { round, hypothesis }, metaStream, 'meta-policy');
    }

    // The policy revision: promote the best explorer whose LB gain clears the threshold; a losing move becomes a dead end.
    const next: RollingPolicy = JSON.parse(JSON.stringify(policy)) as RollingPolicy;
    next.revision = policy.revision + 1;
    next.forRound = round + 1;
    next.noiseBand = { devStd: r3(0.004 + 0.004 * rnd()), lbStd: r3(0.005 + 0.004 * rnd()), seeds: 2 * round, round };
    const changes: string[] = [];
    const lbAnchor = anchor?.lb ?? base.lb;
    const winner = submitted
      .filter(
        (x) =>
          !x.isAnchor &&
          x.changes.length > 0 &&
          x.lb - lbAnchor > policy.promotionThreshold &&
          x.axis !== 'synthetic-data',
      )
      .sort((a, b) => b.lb - a.lb)[0];
    if (winner) {
      for (const ch of winner.changes) setPath(next.standingRecipe, ch.path, ch.to);
      changes.push(
        `standing recipe: ${winner.changes.map((ch) => `${ch.path} → ${JSON.stringify(ch.to)}`).join(', ')} (promoted ${winner.candidateId})`,
      );
      base = {
        dev: base.dev + 0.6 * axisEffect(winner.axis, winner.changes).dev,
        lb: base.lb + 0.6 * axisEffect(winner.axis, winner.changes).lb,
      };
    }
    const loser = submitted
      .filter((x) => !x.isAnchor && x.changes.length === 1 && lbAnchor - x.lb > 2 * policy.noiseBand.lbStd)
      .sort((a, b) => a.lb - b.lb)[0];
    if (loser && !next.deadEnds.some((d) => d.path === loser.changes[0].path)) {
      const ch = loser.changes[0];
      next.deadEnds.push({
        id: `dead-${round}-${ch.path}`,
        description: `${ch.path} → ${JSON.stringify(ch.to)} (LB ${r3(loser.lb - lbAnchor)})`,
        axis: loser.axis,
        path: ch.path,
        direction: 'set',
        value: ch.to as never,
        round,
        candidateId: loser.candidateId,
        evidence: `round ${round}`,
      });
      changes.push(`Don't waste budget on: ${ch.path} → ${JSON.stringify(ch.to)}`);
    }
    if (hypothesis?.status === 'confirmed' && hypothesis.decidedRound === round) {
      next.objective = 'transfer-to-lb';
      next.retiredAxes.push({ axis: 'synthetic-data', round, reason: 'confirmed equation decoupling' });
      next.activeAxes = next.activeAxes.filter((a) => a !== 'synthetic-data');
      changes.push('objective: raise-dev-and-lb → transfer-to-lb', 'axis retired: synthetic-data');
    }
    if (hypothesis) next.decouplingHypotheses = [hypothesis];
    next.bestPublicLb = roundBest === null ? policy.bestPublicLb : Math.max(roundBest, policy.bestPublicLb ?? 0);
    next.rationale = `round ${round}: ${changes.length} change(s)`;
    const llm = {
      model: 'claude-sonnet-4-5',
      inputTokens: 800 + Math.floor(rnd() * 400),
      outputTokens: 200 + Math.floor(rnd() * 100),
      cacheReadTokens: 0,
      stopReason: 'end_turn',
      proposal: { changes },
      refused: false,
    };
    ev(
      PolicyRevised,
      {
        round,
        policy: next,
        policySha256: contentHash(next),
        previousRevision: policy.revision,
        evidenceSha256,
        constitutionSha256: contentHash('synthetic constitution'),
        proposer: 'claude',
        changes: changes.length ? changes : ['no change'],
        llm,
      },
      metaStream,
      'meta-policy',
    );
    spent = { gpuSeconds: r3(spent.gpuSeconds), llmTokens: spent.llmTokens + llm.inputTokens + llm.outputTokens };
    policy = next;
    ev(
      RoundClosed,
      { round, policyRevision: next.revision, bestPublicLb: roundBest, spent },
      campaignStream,
      'orchestrator',
    );
  }
  ev(FinalAuditStarted, { reason: 'rounds-exhausted', rounds, spent, exhausted: [] }, campaignStream, 'orchestrator');
  ev(
    PrivateLeaderboardUnsealed,
    { scores: unsealed.map((s) => ({ ...s, privateDomains: null })) },
    `leaderboard-${campaignId}`,
    'leaderboard',
  );
  const b = best as {
    candidateId: string;
    round: number;
    submissionId: string;
    publicLb: number;
    privateLb: number;
  } | null;
  ev(
    CampaignCompleted,
    {
      rounds,
      reason: 'rounds-exhausted',
      bestCandidateId: b?.candidateId ?? null,
      bestPublicLb: b?.publicLb ?? null,
      bestPrivateLb: b?.privateLb ?? null,
      bestRound: b?.round ?? null,
      bestSubmissionId: b?.submissionId ?? null,
      submissions: unsealed.length,
    },
    campaignStream,
    'orchestrator',
  );
  return out;
}

function getPath(doc: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = doc;
  for (const seg of dotted.split('.'))
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
  return cur;
}

function setPath(doc: Record<string, unknown>, dotted: string, value: unknown): void {
  const segs = dotted.split('.');
  let cur = doc;
  for (const seg of segs.slice(0, -1)) {
    if (cur[seg] === null || typeof cur[seg] !== 'object') cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]] = value;
}

function proposeChange(axis: Axis, policy: RollingPolicy, rnd: () => number): RecipeChange[] {
  const r = policy.standingRecipe;
  const scale = (path: string, factors: number[], integer = false): RecipeChange[] => {
    const from = getPath(r, path);
    if (typeof from !== 'number') return [];
    const f = factors[Math.floor(rnd() * factors.length)];
    const to = integer ? Math.max(1, Math.round(from * f)) : Number((from * f).toPrecision(3));
    return [{ path, from, to }];
  };
  switch (axis) {
    case 'learning-rate':
      return scale('train.lr', [0.5, 1.5, 2]);
    case 'warmup':
      return scale('train.warmup_steps', [0.5, 2], true);
    case 'schedule': {
      const from = getPath(r, 'train.schedule');
      const to = ['cosine', 'linear', 'constant'].filter((s) => s !== from)[Math.floor(rnd() * 2)];
      return [{ path: 'train.schedule', from, to }];
    }
    case 'data-mix':
      return scale(rnd() < 0.5 ? 'data.mix.gravity' : 'data.mix.equation', [0.5, 2]);
    case 'synthetic-data': {
      const from = getPath(r, 'data.synthetic.count');
      return [{ path: 'data.synthetic.count', from, to: typeof from === 'number' && from > 0 ? from * 2 : 4000 }];
    }
    default:
      return [];
  }
}

/** The toy response surface: dev and leaderboard effect of one move (synthetic data: dev and dev-equation only). */
function axisEffect(axis: Axis, changes: RecipeChange[]): { dev: number; lb: number; equation: number } {
  if (changes.length === 0) return { dev: 0, lb: 0, equation: 0 };
  const ch = changes[0];
  const up = typeof ch.from === 'number' && typeof ch.to === 'number' ? ch.to > ch.from : ch.to === 'linear';
  switch (axis) {
    case 'learning-rate':
      return up ? { dev: 0.02, lb: 0.018, equation: 0 } : { dev: -0.015, lb: -0.02, equation: 0 };
    case 'warmup':
      return { dev: 0.004, lb: 0.002, equation: 0 };
    case 'schedule':
      return up ? { dev: 0.012, lb: 0.01, equation: 0 } : { dev: -0.005, lb: -0.004, equation: 0 };
    case 'data-mix':
      return ch.path === 'data.mix.equation' && !up
        ? { dev: -0.02, lb: 0.001, equation: -0.08 }
        : { dev: 0.006, lb: 0.005, equation: 0 };
    case 'synthetic-data':
      return { dev: 0.04, lb: -0.002, equation: 0.15 };
    default:
      return { dev: 0, lb: 0, equation: 0 };
  }
}
