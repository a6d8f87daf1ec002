import * as fs from 'node:fs';
import * as path from 'node:path';
import { CampaignPaused, ResultManifest, WorkerStarted, createEvent, type EventEnvelope } from '@aevo/contracts';
import {
  HeuristicAgent,
  LeaseLostError,
  WorkerRuntime,
  candidateStreamId,
  foldTrace,
  parseRecipeYaml,
  runCandidate,
  type WorkerAgent,
} from '../src';
import { createHarness, fixturePolicy, type Harness } from './harness';

jest.setTimeout(120_000);

describe('worker runtime on the fixture substrate (real PostgreSQL, local executor)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const streamOf = (candidateId: string) => h.store.readStream(candidateStreamId(candidateId));
  const launches = (sandbox: string): string[] => {
    const runs = path.join(sandbox, 'runs');
    if (!fs.existsSync(runs)) return [];
    return fs.readdirSync(runs).flatMap((d) => {
      const f = path.join(runs, d, 'ckpt', 'launches.log');
      return fs.existsSync(f)
        ? fs
            .readFileSync(f, 'utf8')
            .trim()
            .split('\n')
            .map((l) => `${d} ${l.split(' ')[0]}`)
        : [];
    });
  };

  function assertTraceBeforeAct(events: EventEnvelope[]) {
    // Every fact the worker emits for a step (JobRequested, RecipeChanged, ManifestSubmitted, …) comes after
    // that step's intent; every outcome after its intent.
    const intents = new Map<number, number>();
    events.forEach((e, i) => {
      if (e.type !== 'TraceStepRecorded') return;
      const d = e.data as { step: number; phase: string };
      if (d.phase === 'intent') intents.set(d.step, i);
      else expect(intents.get(d.step)).toBeLessThan(i);
    });
    let lastIntent = -1;
    events.forEach((e, i) => {
      if (e.type === 'TraceStepRecorded' && (e.data as { phase: string }).phase === 'intent') lastIntent = i;
      if (['JobRequested', 'RecipeChanged', 'EvaluationRequested', 'ManifestSubmitted'].includes(e.type))
        expect(lastIntent).toBeGreaterThanOrEqual(0);
      if (['JobRequested', 'RecipeChanged', 'EvaluationRequested', 'ManifestSubmitted'].includes(e.type))
        expect(lastIntent).toBeLessThan(i);
    });
  }

  it('a heuristic worker completes a learning-rate candidate: edit, prepare, train, evaluate, manifest', async () => {
    const fork = h.fork(1, 1, { axis: 'learning-rate' });
    const policy = fixturePolicy(h.substrateDir);
    const out = await runCandidate({ fork, policy }, h.config(), h.ports(fork.candidateId), new HeuristicAgent());
    expect(out.kind).toBe('submitted');
    const m = ResultManifest.parse(out.manifest);
    expect(m.status).toBe('completed');
    expect(m.axis).toBe('learning-rate');
    expect(m.recipeChanges).toHaveLength(1);
    expect(m.recipeChanges[0].path).toBe('train.lr');
    expect(m.recipeDiff).toMatch(/^--- a\/recipe.yaml\n\+\+\+ b\/recipe.yaml\n@@ /);
    expect(m.recipeDiff).toContain(`-  lr: 0.003`);
    expect(m.filesChanged).toEqual(['recipe.yaml']);
    expect(m.checkpoints.map((c) => c.step)).toEqual([20, 40, 60]);
    for (const c of m.checkpoints) expect(Object.keys(c.dev.domains).sort()).toHaveLength(6);
    expect(m.chosenCheckpoint?.criterion).toBe('mean');
    expect(m.cost.jobs).toBe(2); // prepare + train (evaluations are the evaluation path's jobs)
    expect(m.policyRevision).toBe(0);
    const events = await streamOf(fork.candidateId);
    expect(m.traceLength).toBe(foldTrace(events).steps.length);
    assertTraceBeforeAct(events);
    expect(events.filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'RecipeChanged')).toHaveLength(1);
    expect(launches(fork.sandboxPath)).toHaveLength(1);
    // the manifest's diff is the diff of the sandbox file against the candidate's start
    const final = fs.readFileSync(path.join(fork.sandboxPath, 'recipe.yaml'), 'utf8');
    expect(parseRecipeYaml(final)).toMatchObject({ train: { lr: m.recipeChanges[0].to } });
  });

  it('the baseline anchor runs the standing recipe unchanged, one training run and evaluation per seed', async () => {
    const fork = h.fork(1, 0, { seeds: [1, 2, 3] });
    const out = await runCandidate(
      { fork, policy: fixturePolicy(h.substrateDir) },
      h.config(),
      h.ports(fork.candidateId),
      new HeuristicAgent(),
    );
    expect(out.kind).toBe('submitted');
    const m = out.manifest!;
    expect(m.isAnchor).toBe(true);
    expect(m.recipeChanges).toEqual([]);
    expect(m.recipeDiff).toBe('');
    expect(new Set(m.checkpoints.map((c) => c.seed))).toEqual(new Set([1, 2, 3]));
    expect(m.chosenCheckpoint?.seed).toBe(1);
    const events = await streamOf(fork.candidateId);
    const trains = events.filter(
      (e) => e.type === 'JobRequested' && (e.data as { spec: { entrypoint: string } }).spec.entrypoint === 'train',
    );
    expect(trains).toHaveLength(3);
    expect(events.filter((e) => e.type === 'EvaluationRequested')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'RecipeChanged')).toHaveLength(0);
  });

  it('retries a diverged run once with a lower learning rate, and records the divergence', async () => {
    const policy = fixturePolicy(h.substrateDir);
    const standing = structuredClone(policy.standingRecipe) as { train: { lr: number } };
    standing.train.lr = 0.03; // the fixture diverges above 0.02
    const fork = h.fork(1, 2, { axis: 'warmup' });
    const out = await runCandidate(
      { fork, policy: { ...policy, standingRecipe: standing } },
      h.config(),
      h.ports(fork.candidateId),
      new HeuristicAgent(),
    );
    expect(out.kind).toBe('submitted');
    const m = out.manifest!;
    expect(m.failureModes.map((f) => f.kind)).toContain('diverged');
    expect(m.recipeChanges.find((c) => c.path === 'train.lr')).toEqual({ path: 'train.lr', from: 0.03, to: 0.015 });
    expect(m.checkpoints.length).toBeGreaterThan(0);
    expect(launches(fork.sandboxPath)).toHaveLength(2);
    // the adopted standing recipe is the base of the diff: the fork's 0.003 does not appear
    expect(m.recipeDiff).toContain('-  lr: 0.03');
  });

  it('refuses writes outside the editable paths and lists each refusal among the failure modes', async () => {
    const fork = h.fork(1, 3, { axis: 'data-mix' });
    const outside = path.join(h.home, 'outside');
    fs.mkdirSync(outside, { recursive: true });
    fs.symlinkSync(outside, path.join(fork.sandboxPath, 'pipeline', 'link'));
    const attacker: WorkerAgent = {
      kind: 'heuristic',
      async run(rt) {
        for (const p of [
          '../escape.txt',
          path.join(outside, 'abs.txt'),
          'pipeline/link/through-symlink.txt',
          'harness/train.js',
          'substrate.yaml',
        ])
          expect((await rt.call('write_file', { path: p, content: 'pwned' })).ok).toBe(false);
        await new HeuristicAgent().run(rt);
      },
    };
    const out = await runCandidate(
      { fork, policy: fixturePolicy(h.substrateDir) },
      h.config(),
      h.ports(fork.candidateId),
      attacker,
    );
    expect(out.kind).toBe('submitted');
    const refused = out.manifest!.failureModes.filter((f) => f.kind === 'path-refused');
    expect(refused).toHaveLength(5);
    expect(refused.map((f) => f.detail).join('\n')).toMatch(/\.\." segments/);
    expect(refused.map((f) => f.detail).join('\n')).toMatch(/absolute/);
    expect(refused.map((f) => f.detail).join('\n')).toMatch(/symbolic link/);
    expect(refused.map((f) => f.detail).join('\n')).toMatch(/frozen/);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(path.join(h.home, 'sandboxes', 'r1', 'escape.txt'))).toBe(false);
    expect(fs.readFileSync(path.join(fork.sandboxPath, 'harness/train.js'), 'utf8')).not.toBe('pwned');
  });

  it("appends a step's intent with what it causes, never later than anything waits on it", async () => {
    const fork = h.fork(1, 9, { axis: 'learning-rate' });
    const ports = h.ports(fork.candidateId);
    const appends: EventEnvelope[][] = [];
    const lastRecordWhileWaiting: string[] = [];
    const lastRecord = async () => {
      const d = (await streamOf(fork.candidateId)).filter((e) => e.type === 'TraceStepRecorded').pop()!.data as {
        tool: string;
        phase: string;
      };
      return `${d.tool}:${d.phase}`;
    };
    const out = await runCandidate(
      { fork, policy: fixturePolicy(h.substrateDir) },
      h.config(),
      {
        log: h.portsIntercepted(fork.candidateId, (events) => void appends.push(events)).log,
        jobs: {
          submit: (spec) => ports.jobs.submit(spec),
          logTail: (jobId, lines) => ports.jobs.logTail!(jobId, lines),
          wait: async (jobId, ms) => {
            if (ms > 0) lastRecordWhileWaiting.push(await lastRecord());
            return ports.jobs.wait(jobId, ms);
          },
        },
        evaluator: {
          submit: (r, snapshotId) => ports.evaluator.submit(r, snapshotId),
          wait: async (r, ms) => {
            if (ms > 0) lastRecordWhileWaiting.push(await lastRecord());
            return ports.evaluator.wait(r, ms);
          },
        },
      },
      new HeuristicAgent(),
    );
    expect(out.kind).toBe('submitted');
    const shape = appends.map((a) =>
      a.map((e) => (e.type === 'TraceStepRecorded' ? (e.data as { phase: string }).phase : e.type)).join('+'),
    );
    // Start + open_sandbox, list_files, read_file, set_recipe (each intent + outcome + its facts), then the launch's
    // intent together with the job it requests: five appends before the first job (nine when every record was its own).
    expect(shape.slice(0, 5)).toEqual([
      'WorkerStarted+intent+outcome',
      'intent+outcome',
      'intent+outcome',
      'intent+outcome+RecipeChanged',
      'intent+JobRequested',
    ]);
    expect(shape[shape.length - 1]).toBe('intent+outcome+ManifestSubmitted');
    // Whenever the runtime waits on a job or an evaluation, the waiting step's intent is already in the stream.
    expect(lastRecordWhileWaiting.length).toBeGreaterThan(0);
    for (const r of lastRecordWhileWaiting) expect(r).toMatch(/:intent$/);
    assertTraceBeforeAct(await streamOf(fork.candidateId));
  });

  /** The harness's ports, with `before(n)` run before the runtime's n-th append (1-based) reaches the store. */
  const portsInterfering = (candidateId: string, before: (n: number) => Promise<void>) => {
    let n = 0;
    return h.portsIntercepted(candidateId, () => before(++n));
  };

  it('decides its staged records again when someone else appended to the stream meanwhile, and goes on', async () => {
    const fork = h.fork(1, 11, { axis: 'learning-rate' });
    const streamId = candidateStreamId(fork.candidateId);
    const foreign = createEvent(
      CampaignPaused,
      { reason: 'an operator note in the candidate stream' },
      { campaignId: 'camp', streamId, source: 'orchestrator' },
    );
    // Before the 5th append: the launch's intent and its JobRequested are staged, decided at a version now taken.
    const ports = portsInterfering(fork.candidateId, async (n) => {
      if (n === 5) await h.store.append(streamId, 'any', [foreign]);
    });
    const out = await runCandidate(
      { fork, policy: fixturePolicy(h.substrateDir) },
      h.config(),
      ports,
      new HeuristicAgent(),
    );
    expect(out.kind).toBe('submitted');
    const events = await streamOf(fork.candidateId);
    expect(events.filter((e) => e.id === foreign.id)).toHaveLength(1);
    assertTraceBeforeAct(events);
    const trace = foldTrace(events);
    // Nothing recorded twice, nothing lost: every step once, with its outcome; one job request per job.
    expect(trace.steps.every((st) => st && st.outcome)).toBe(true);
    const intents = events.filter(
      (e) => e.type === 'TraceStepRecorded' && (e.data as { phase: string }).phase === 'intent',
    );
    expect(intents).toHaveLength(trace.steps.length);
    const ids = events
      .filter((e) => e.type === 'JobRequested')
      .map((e) => (e.data as { spec: { jobId: string } }).spec.jobId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stops, appending nothing more, when another worker replica took the candidate over', async () => {
    const fork = h.fork(1, 12, { axis: 'learning-rate' });
    const streamId = candidateStreamId(fork.candidateId);
    const rival = createEvent(
      WorkerStarted,
      { candidateId: fork.candidateId, round: 1, workerId: 'w-rival', agentKind: 'heuristic', resumedFromStep: 0 },
      { campaignId: 'camp', streamId, source: 'worker' },
    );
    const ports = portsInterfering(fork.candidateId, async (n) => {
      if (n === 3) await h.store.append(streamId, 'any', [rival]);
    });
    await expect(
      runCandidate({ fork, policy: fixturePolicy(h.substrateDir) }, h.config(), ports, new HeuristicAgent()),
    ).rejects.toBeInstanceOf(LeaseLostError);
    const events = await streamOf(fork.candidateId);
    expect(events[events.length - 1].id).toBe(rival.id);
    expect(events.filter((e) => e.type === 'JobRequested')).toHaveLength(0);
  });

  it('resumes from the trace after a crash at every step: same manifest, no job launched twice', async () => {
    const policy = fixturePolicy(h.substrateDir);
    // Reference run, never interrupted.
    const ref = h.fork(1, 4, { axis: 'learning-rate' });
    const refOut = await runCandidate(
      { fork: ref, policy },
      h.config(),
      h.ports(ref.candidateId),
      new HeuristicAgent(),
    );
    const total = (await streamOf(ref.candidateId)).filter((e) => e.type === 'TraceStepRecorded').length;
    expect(total).toBeGreaterThan(10);
    class Crash extends Error {}
    // A crash right after the append that brings the trace to k events or more (appends carry 1–3 trace events).
    for (let k = 1; k < total; k += 3) {
      const fork = h.fork(1, 100 + k, { axis: 'learning-rate', seeds: ref.seeds });
      // identical inputs except the id: the mutation seed depends on the candidate id, so use the same index
      const inputs = { fork: { ...fork, index: ref.index }, policy };
      await expect(
        runCandidate(inputs, h.config('w-crash'), h.ports(fork.candidateId), new HeuristicAgent(), {
          hooks: {
            afterAppend: ({ traceEvents }) => {
              if (traceEvents >= k) throw new Crash(`crash at trace event ${traceEvents} (≥ ${k})`);
            },
          },
        }),
      ).rejects.toBeInstanceOf(Crash);
      const resumed = await runCandidate(inputs, h.config('w-resume'), h.ports(fork.candidateId), new HeuristicAgent());
      expect(resumed.kind).toBe('submitted');
      const events = await streamOf(fork.candidateId);
      expect(events.filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
      const ids = events
        .filter((e) => e.type === 'JobRequested')
        .map((e) => (e.data as { spec: { jobId: string } }).spec.jobId);
      expect(new Set(ids).size).toBe(ids.length);
      const l = launches(fork.sandboxPath);
      expect(new Set(l).size).toBe(l.length);
      expect(l).toHaveLength(1);
      const m = (resumed as { manifest: ResultManifest }).manifest;
      expect(m.recipeChanges).toEqual(refOut.manifest!.recipeChanges);
      expect(m.checkpoints.map((c) => c.dev)).toEqual(refOut.manifest!.checkpoints.map((c) => c.dev));
      // a third replica finds the candidate finished and does nothing
      const again = await runCandidate(inputs, h.config('w-late'), h.ports(fork.candidateId), new HeuristicAgent());
      expect(again.kind).toBe('already-finished');
      expect((await streamOf(fork.candidateId)).length).toBe(events.length);
    }
  });

  it('stops before the next step when told to (campaign aborted): a failed manifest, no further job', async () => {
    const fork = h.fork(1, 7, { axis: 'learning-rate' });
    const policy = fixturePolicy(h.substrateDir);
    let calls = 0;
    // Lets the first three steps run (open, list/edit…), then the campaign is "aborted".
    const stopRequested = () => (++calls > 3 ? 'campaign aborted: operator said stop' : null);
    const out = await runCandidate({ fork, policy }, h.config(), h.ports(fork.candidateId), new HeuristicAgent(), {
      hooks: { stopRequested },
    });
    expect(out.kind).toBe('failed');
    expect(out.kind === 'failed' && out.reason).toContain('campaign aborted: operator said stop');
    const events = await streamOf(fork.candidateId);
    const trace = foldTrace(events);
    expect(trace.finished?.kind).toBe('submitted');
    expect(events.filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'WorkerFailed')).toHaveLength(1);
    const manifest = ResultManifest.parse(
      (events.find((e) => e.type === 'ManifestSubmitted')!.data as { manifest: unknown }).manifest,
    );
    expect(manifest.status).toBe('failed');
    // Every recorded intent has its outcome: the stop came between steps, so a resume has nothing to redo.
    expect(trace.steps.every((st) => st && st.outcome)).toBe(true);
    const stepsAtStop = trace.steps.length;
    // Running it again (a redelivery) finds it finished and does nothing more.
    const again = await runCandidate({ fork, policy }, h.config(), h.ports(fork.candidateId), new HeuristicAgent(), {
      hooks: { stopRequested },
    });
    expect(again.kind).toBe('already-finished');
    expect(foldTrace(await streamOf(fork.candidateId)).steps.length).toBe(stepsAtStop);
  });

  it('refuses inputs that do not validate, naming the field, and changes nothing', async () => {
    const fork = h.fork(1, 5);
    const policy = fixturePolicy(h.substrateDir);
    await expect(
      WorkerRuntime.open({ fork: { ...fork, seeds: [] }, policy }, h.config(), h.ports(fork.candidateId)),
    ).rejects.toThrow(/fork\.seeds/);
    await expect(
      WorkerRuntime.open({ fork, policy: { ...policy, revision: 3 } }, h.config(), h.ports(fork.candidateId)),
    ).rejects.toThrow(/policy revision 0, got revision 3/);
    await expect(
      WorkerRuntime.open(
        { fork: { ...fork, sandboxPath: path.join(h.home, 'nope') }, policy },
        h.config(),
        h.ports(fork.candidateId),
      ),
    ).rejects.toThrow(/no valid substrate.yaml/);
    expect(await streamOf(fork.candidateId)).toEqual([]);
  });
});
