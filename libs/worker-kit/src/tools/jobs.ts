import { sha256Hex, type JobSpec } from '@aevo/contracts';
import { entrypointIsolation, renderEntrypoint } from '@aevo/substrate-kit';
import type { JobTerminal } from '../ports';
import type { JobView, LaunchOutput, PrepareOutput } from '../summary';
import { jobIdOf, runDirOf } from '../trace';
import type { ToolHost } from './host';
import { fail, okOut, type StepOutcome } from './outcome';

/**
 * The candidate's jobs: specs rendered from the substrate's entrypoints, requested once per jobId (a resumed step
 * finds the request in the trace), waited on through the job port, with terminal reports kept per process.
 */
export class JobTools {
  private readonly terminals = new Map<string, JobTerminal>();

  constructor(private readonly host: ToolHost) {}

  private placeholders(extra: Record<string, string>): Record<string, string> {
    const h = this.host;
    return {
      sandbox: h.inputs.fork.sandboxPath,
      base_checkpoint: h.substrate.baseCheckpoint,
      size: h.config.size,
      device: h.config.device,
      ...extra,
    };
  }

  spec(jobId: string, entrypoint: 'prepare-data' | 'train', values: Record<string, string>): JobSpec {
    const h = this.host;
    const ep = h.substrate.entrypoints[entrypoint];
    const placeholders = this.placeholders(values);
    return {
      jobId,
      candidateId: h.candidateId,
      round: h.inputs.fork.round,
      entrypoint,
      sandboxPath: h.inputs.fork.sandboxPath,
      argv: renderEntrypoint(h.substrate, entrypoint, placeholders),
      env: {},
      resources: h.substrate.resources[entrypoint],
      timeoutSeconds: ep.timeoutSeconds ?? h.config.jobTimeoutSeconds ?? 3600,
      priority: 'normal',
      // The job writes only what its entrypoint declares; everything pinned is mounted from the snapshot.
      isolation: {
        snapshotId: h.inputs.fork.snapshotId,
        ...entrypointIsolation(h.substrate, entrypoint, placeholders),
      },
    };
  }

  /** Records JobRequested once per jobId (a resumed step finds it in the trace) and hands the job to the port. */
  async request(spec: JobSpec): Promise<void> {
    await this.host.apply({ kind: 'RequestJob', spec });
    await this.host.jobPort.submit(spec);
  }

  view(spec: JobSpec | undefined, jobId: string, t: JobTerminal | null): JobView {
    return {
      jobId,
      entrypoint: spec?.entrypoint ?? 'unknown',
      status: t ? t.status : 'running',
      exitCode: t?.exitCode ?? null,
      reason: t?.reason ?? null,
      message: t?.message ?? null,
      gpuSeconds: t?.gpuSeconds ?? 0,
      wallSeconds: t?.wallSeconds ?? 0,
    };
  }

  async wait(jobId: string, seconds: number): Promise<JobTerminal | null> {
    const known = this.terminals.get(jobId);
    if (known) return known;
    if (seconds > 0) await this.host.flush();
    const t = await this.host.jobPort.wait(jobId, Math.max(0, seconds) * 1000);
    if (t) this.terminals.set(jobId, t);
    return t;
  }

  /** Waits for a job the step itself depends on (prepare-data), as long as its timeout allows. */
  private async waitToEnd(spec: JobSpec): Promise<JobTerminal | null> {
    const deadline = Date.now() + (spec.timeoutSeconds + 3600) * 1000;
    while (Date.now() < deadline) {
      const t = await this.wait(spec.jobId, Math.min(60, Math.ceil((deadline - Date.now()) / 1000)));
      if (t) return t;
    }
    return null;
  }

  async tail(jobId: string | undefined, lines: number): Promise<string> {
    if (!jobId) return '';
    const t = this.terminals.get(jobId) ?? (await this.host.jobPort.wait(jobId, 0));
    const text = t ? t.logTail : ((await this.host.jobPort.logTail?.(jobId, lines)) ?? '');
    return text.split('\n').slice(-lines).join('\n');
  }

  /** Runs prepare-data for the current recipe unless this candidate already prepared the very same recipe. */
  async prepare(k: number): Promise<PrepareOutput> {
    const h = this.host;
    const recipe = h.currentRecipe();
    const recipeSha = sha256Hex(recipe);
    const dataDir = `prepared/${recipeSha.slice(0, 12)}`;
    const s = h.summary();
    const prepared = this.preparedSha();
    const earlier = [...s.jobs.values()].find(
      (j) => j.entrypoint === 'prepare-data' && j.status === 'succeeded' && prepared.get(j.jobId) === recipeSha,
    );
    if (earlier) return { recipeSha, dataDir, cached: true, job: null };
    // The job trains on a copy, so a later edit of the recipe cannot change a run already launched.
    h.files.writeOutput(`${dataDir}/recipe.yaml`, recipe);
    const spec = this.spec(jobIdOf(h.candidateId, k, 'prep'), 'prepare-data', {
      recipe: `${dataDir}/recipe.yaml`,
      data_dir: `${dataDir}/data`,
      seed: String(h.inputs.fork.seeds[0]),
    });
    await this.request(spec);
    const t = await this.waitToEnd(spec);
    return { recipeSha, dataDir, cached: false, job: this.view(spec, spec.jobId, t) };
  }

  /** recipe sha of every prepare job this candidate requested (from the trace: its recipe copy path). */
  private preparedSha(): Map<string, string> {
    const m = new Map<string, string>();
    for (const step of this.host.trace.steps) {
      const o = step?.outcome;
      if (!o) continue;
      const out = o.output as { job?: JobView; recipeSha?: string; prepare?: PrepareOutput } | null;
      if (step.tool === 'preview_data' && out?.job && out.recipeSha) m.set(out.job.jobId, out.recipeSha);
      if (step.tool === 'launch_training' && out?.prepare?.job) m.set(out.prepare.job.jobId, out.prepare.recipeSha);
    }
    return m;
  }

  /** preview_data: prepare-data on the current recipe, its outputs and log tail, without training. */
  async preview(k: number): Promise<StepOutcome> {
    const prep = await this.prepare(k);
    if (prep.job && prep.job.status !== 'succeeded')
      return fail('PREPARE_FAILED', `prepare-data ${prep.job.status}: ${prep.job.message ?? prep.job.reason ?? ''}`, {
        job: prep.job,
      });
    const listing = this.host.files.list(prep.dataDir, 50);
    return okOut({
      ...prep,
      outputs: listing.files.map((f) => ({ path: f.path, bytes: f.bytes })),
      logTail: await this.tail(prep.job?.jobId, 20),
    });
  }

  /** launch_training: one training run of the current recipe (on a copy) with `seed`, after prepare-data. */
  async launch(k: number, seed: number): Promise<StepOutcome> {
    const h = this.host;
    const prep = await this.prepare(k);
    if (prep.job && prep.job.status !== 'succeeded')
      return fail(
        'PREPARE_FAILED',
        `prepare-data ${prep.job.status}${prep.job.reason ? ` (${prep.job.reason})` : ''}: ${prep.job.message ?? ''}`,
        {
          job: prep.job,
        },
      );
    const recipe = h.currentRecipe();
    const runDir = runDirOf(k, seed);
    h.files.writeOutput(`${runDir}/recipe.yaml`, recipe);
    const checkpointsDir = `${runDir}/ckpt`;
    const spec = this.spec(jobIdOf(h.candidateId, k, 'train'), 'train', {
      recipe: `${runDir}/recipe.yaml`,
      data_dir: `${prep.dataDir}/data`,
      checkpoints_dir: checkpointsDir,
      seed: String(seed),
    });
    await this.request(spec);
    const out: LaunchOutput = {
      jobId: spec.jobId,
      seed,
      runDir,
      checkpointsDir,
      recipeSha: sha256Hex(recipe),
      prepare: prep,
    };
    return okOut(out);
  }

  /** poll_job: a job's status, waiting up to `waitSeconds` for it to end. */
  async poll(jobId: string, waitSeconds: number): Promise<StepOutcome> {
    const spec = this.host.trace.jobsRequested.get(jobId);
    if (!spec) return fail('UNKNOWN_JOB', `no job ${jobId} was launched by this candidate`);
    const t = await this.wait(jobId, Math.min(waitSeconds, this.host.maxWaitSeconds()));
    return okOut(this.view(spec, jobId, t));
  }

  /** read_log_tail: the last lines of one of this candidate's jobs. */
  async readLogTail(jobId: string, lines: number): Promise<StepOutcome> {
    if (!this.host.trace.jobsRequested.has(jobId))
      return fail('UNKNOWN_JOB', `no job ${jobId} was launched by this candidate`);
    return okOut({ jobId, tail: await this.tail(jobId, lines) });
  }
}
