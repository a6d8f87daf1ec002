import {
  AXIS_CATEGORY,
  canonicalJson,
  type PrescribedRun,
  type RecipeDocument,
  type SelectionCriterion,
} from '@aevo/contracts';
import { explorerSlot, proposeMutation, retryFix, type Proposal } from '../mutation';
import { prescribedHypothesis } from '../prescribed';
import { getPath, parseRecipeYaml } from '../recipe-doc';
import type { WorkerRuntime } from '../runtime';
import type { JobView, LaunchOutput } from '../summary';
import type { ToolResult } from '../tools';
import type { WorkerAgent } from './agent';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * The default worker: no network, no model. Its every decision is a pure function of the fork, the axis, the
 * policy, the recorded mutation seed and the tool results, so replaying its trace after a crash reproduces it.
 *
 * It is also the path of every prescribed run (a confirmation run or a decoupling probe), whatever agent kind the
 * campaign configured: the fork's `prescribed.changes` are applied exactly onto the standing recipe through
 * set_recipe, every seed is trained and evaluated, and the manifest carries `prescribed.hypothesis`.
 */
export class HeuristicAgent implements WorkerAgent {
  readonly kind = 'heuristic' as const;

  constructor(private readonly opts: { pollWaitSeconds?: number; maxPolls?: number } = {}) {}

  async run(rt: WorkerRuntime): Promise<void> {
    const { fork, policy } = rt.inputs;
    await rt.call('list_files', {});
    const read = await rt.call('read_file', { path: rt.recipePath });
    if (!read.ok) {
      await rt.finalize({
        status: 'failed',
        reason: `cannot read the recipe: ${read.error.message}`,
        failure: 'invalid-output',
      });
      return;
    }
    const recipe = parseRecipeYaml((read.value as { content: string }).content, rt.recipePath);

    const prescribed = fork.prescribed;
    const notes: string[] = [];
    let proposal: Proposal | null = null;
    if (prescribed) {
      const refused = await this.applyPrescribed(rt, prescribed, recipe, notes);
      if (refused) {
        await rt.finalize({
          status: 'failed',
          reason: refused,
          failure: 'agent-error',
          hypothesis: prescribedHypothesis(prescribed),
        });
        return;
      }
    } else if (!fork.isAnchor) {
      // Its place among the round's explorers of the axis: explorers of one axis make distinct moves.
      proposal = proposeMutation(
        fork.axis,
        recipe,
        policy,
        rt.mutationSeed,
        rt.substrate.metric.domains,
        explorerSlot(fork, policy),
      );
      if (proposal.settings.length > 0) {
        const set = await rt.call('set_recipe', {
          settings: proposal.settings.map((s) => ({ path: s.path, value: s.value })),
        });
        if (!set.ok) {
          await rt.finalize({
            status: 'failed',
            reason: `could not apply the proposed change: ${set.error.message}`,
            failure: 'agent-error',
            hypothesis: proposal.hypothesis,
          });
          return;
        }
        // Data changes are checked on the pipeline before any training is spent on them.
        if (AXIS_CATEGORY[fork.axis] === 'data') await rt.call('preview_data', {});
      }
    }

    // A criterion of the worker's own (checkpoint-selection axis) goes to the evaluation service, which selects by it.
    const criterion: SelectionCriterion | undefined = proposal?.criterion;
    for (const seed of fork.seeds) await this.trainAndEvaluate(rt, seed, notes, criterion);

    const hypothesis = prescribed
      ? prescribedHypothesis(prescribed)
      : fork.isAnchor
        ? `baseline anchor: standing recipe unchanged over ${fork.seeds.length} seed(s), to measure seed noise`
        : proposal!.hypothesis;
    if (rt.hasEvaluatedCheckpoints()) {
      // (Recorded traces replay these words: an explorer's and the anchor's stay as they were.)
      const selection = prescribed
        ? `prescribed ${prescribed.kind} of ${prescribed.of}: ` +
          (fork.seeds.length === 1
            ? 'the evaluation service’s selection on its only seed'
            : 'the best of the evaluation service’s selections over the seeds')
        : fork.isAnchor
          ? 'anchor: the evaluation service’s selection on the first seed'
          : 'the best of the evaluation service’s selections over the seeds';
      const reason = [selection, ...notes].join('; ');
      const res = await rt.call('submit_manifest', { status: 'completed', hypothesis, reason });
      if (res.ok) return;
      await rt.finalize({
        status: 'failed',
        reason: `manifest rejected: ${res.error.message}`,
        failure: 'agent-error',
        hypothesis,
      });
      return;
    }
    const res = await rt.call('submit_manifest', {
      status: 'failed',
      hypothesis,
      reason: ['no checkpoint could be trained and evaluated', ...notes].join('; '),
    });
    if (!res.ok)
      await rt.finalize({
        status: 'failed',
        reason: `manifest rejected: ${res.error.message}`,
        failure: 'agent-error',
        hypothesis,
      });
  }

  /** One seed: launch, wait, on failure read the log and retry once with a fix, then evaluate. */
  private async trainAndEvaluate(
    rt: WorkerRuntime,
    seed: number,
    notes: string[],
    criterion: SelectionCriterion | undefined,
  ): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const launched = await rt.call('launch_training', { seed });
      let job: JobView | null = null;
      let jobId: string | null = null;
      if (launched.ok) {
        jobId = (launched.value as LaunchOutput).jobId;
        job = await this.waitForJob(rt, jobId);
      } else {
        job = (launched.error as { job?: JobView }).job ?? null;
        if (!job) {
          notes.push(`seed ${seed}: launch refused (${launched.error.message})`);
          return;
        }
      }
      if (job && job.status === 'succeeded' && jobId) {
        const evaluated = await this.evaluate(rt, jobId, criterion);
        if (!evaluated.ok) notes.push(`seed ${seed}: evaluation failed (${evaluated.error.message})`);
        return;
      }
      if (!job || !TERMINAL.has(job.status)) {
        notes.push(`seed ${seed}: job ${jobId} did not finish in time`);
        return;
      }
      const tail = await rt.call('read_log_tail', { jobId: job.jobId, lines: 40 });
      const logTail = tail.ok ? (tail.value as { tail: string }).tail : '';
      if (attempt === 1) {
        notes.push(
          `seed ${seed}: ${job.entrypoint} failed again (${job.reason ?? job.status}); giving up on this seed`,
        );
        return;
      }
      // A prescribed run measures exactly its prescribed recipe: like the anchor, it retries unchanged.
      const fix = rt.inputs.fork.prescribed
        ? { settings: [], note: 'prescribed run: retry the prescribed recipe unchanged' }
        : retryFix(
            job.reason,
            logTail,
            parseRecipeYaml(rt.currentRecipe(), rt.recipePath),
            rt.inputs.policy,
            rt.inputs.fork.isAnchor,
          );
      notes.push(`seed ${seed}: ${fix.note}`);
      if (fix.settings.length > 0) {
        const set = await rt.call('set_recipe', {
          settings: fix.settings.map((s) => ({ path: s.path, value: s.value })),
        });
        if (!set.ok) notes.push(`seed ${seed}: fix not applied (${set.error.message})`);
      }
    }
  }

  /**
   * Applies a prescribed run's changes, exactly, through set_recipe (so the trace, RecipeChanged and the manifest
   * record them like any edit). Returns why the run cannot go on, or null. Nothing is changed when a path is
   * missing from the recipe.
   */
  private async applyPrescribed(
    rt: WorkerRuntime,
    prescribed: PrescribedRun,
    recipe: RecipeDocument,
    notes: string[],
  ): Promise<string | null> {
    const what = `prescribed ${prescribed.kind} of ${prescribed.of}`;
    if (rt.inputs.fork.isAnchor)
      return (
        `${what}: a baseline anchor runs the standing recipe unchanged and cannot carry a prescribed ` +
        `change; nothing was changed or trained`
      );
    const missing = prescribed.changes.filter((c) => getPath(recipe, c.path) === undefined).map((c) => c.path);
    if (missing.length > 0)
      return (
        `${what}: the standing recipe (${rt.recipePath}) has no setting ${missing.join(', ')}, so the ` +
        `prescribed change cannot be applied exactly; nothing was changed or trained`
      );
    const paths = prescribed.changes.map((c) => c.path);
    const dup = paths.find((p, i) => paths.indexOf(p) !== i);
    if (dup) return `${what}: the prescribed change sets ${dup} twice; nothing was changed or trained`;
    for (const c of prescribed.changes) {
      const now = getPath(recipe, c.path);
      if (c.from !== undefined && canonicalJson(c.from) !== canonicalJson(now ?? null))
        notes.push(
          `${c.path}: prescribed from ${canonicalJson(c.from)}, the standing recipe has ${canonicalJson(now ?? null)}`,
        );
      if (canonicalJson(c.to) === canonicalJson(now ?? null))
        notes.push(`${c.path}: the standing recipe already has ${canonicalJson(c.to)}`);
    }
    const set = await rt.call('set_recipe', {
      settings: prescribed.changes.map((c) => ({ path: c.path, value: c.to })),
    });
    if (!set.ok) return `${what}: could not apply the prescribed change: ${set.error.message}`;
    if (AXIS_CATEGORY[rt.inputs.fork.axis] === 'data') await rt.call('preview_data', {});
    return null;
  }

  private async waitForJob(rt: WorkerRuntime, jobId: string): Promise<JobView | null> {
    const maxPolls = this.opts.maxPolls ?? 1000;
    for (let i = 0; i < maxPolls; i++) {
      const p = await rt.call('poll_job', { jobId, waitSeconds: this.opts.pollWaitSeconds ?? 600 });
      if (!p.ok) return null;
      const view = p.value as JobView;
      if (TERMINAL.has(view.status)) return view;
    }
    return null;
  }

  private async evaluate(
    rt: WorkerRuntime,
    jobId: string,
    criterion: SelectionCriterion | undefined,
  ): Promise<ToolResult> {
    for (let i = 0; i < 100; i++) {
      const r = await rt.call('evaluate_checkpoints', { jobId, ...(criterion ? { criterion } : {}) });
      if (r.ok || r.error.code !== 'EVALUATION_PENDING') return r;
    }
    return { ok: false, error: { code: 'EVALUATION_PENDING', message: 'evaluation did not finish' } };
  }
}
