import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { CheckpointInfo, DevScores, SubstrateManifest, selectCheckpoint, type JobSpec } from '@aevo/contracts';
import { readLogTail, type Executor } from '@aevo/executors';
import { entrypointIsolation, renderEntrypoint } from '@aevo/substrate-kit';
import type {
  EvaluatedCheckpoint,
  EvaluationPort,
  EvaluationRequest,
  EvaluationResult,
  JobPort,
  JobTerminal,
} from '../ports';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Jobs run in-process through an executor of libs/executors (no dispatch): for single-process use and tests.
 * The local executor persists its records and runs jobs detached, so a restarted worker reattaches to a job
 * instead of starting it again (submit is idempotent by jobId).
 */
export class LocalJobPort implements JobPort {
  constructor(
    private readonly executor: Executor,
    private readonly campaignId: string,
    private readonly opts: { pollMs?: number; logDir?: string } = {},
  ) {}

  async submit(spec: JobSpec): Promise<void> {
    await this.executor.submit({ campaignId: this.campaignId, spec });
  }

  async wait(jobId: string, waitMs: number): Promise<JobTerminal | null> {
    const deadline = Date.now() + waitMs;
    await this.executor.recover();
    for (;;) {
      const o = this.executor.view(jobId)?.outcome;
      if (o)
        return {
          jobId,
          status: o.status,
          exitCode: o.exitCode,
          reason: o.status === 'cancelled' ? o.message : o.reason,
          message: o.message,
          gpuSeconds: o.gpuSeconds,
          wallSeconds: o.wallSeconds,
          logTail: o.logTail,
        };
      if (Date.now() >= deadline) return null;
      await sleep(Math.min(this.opts.pollMs ?? 100, Math.max(1, deadline - Date.now())));
    }
  }

  async logTail(jobId: string, lines: number): Promise<string | null> {
    if (!this.opts.logDir) return null;
    return readLogTail(path.join(this.opts.logDir, `${jobId}.log`), lines);
  }
}

function readSubstrate(sandboxPath: string): SubstrateManifest {
  return SubstrateManifest.parse(YAML.parse(fs.readFileSync(path.join(sandboxPath, 'substrate.yaml'), 'utf8')));
}

/**
 * Scores checkpoints by running the substrate's frozen `evaluate` entrypoint through a JobPort and reading the
 * dev scores from a directory outside the sandbox (so a candidate cannot write its own scores). The evaluation
 * service does the same from events; this adapter is its in-process counterpart for tests and local runs.
 */
export class LocalEvaluationPort implements EvaluationPort {
  constructor(
    private readonly jobs: JobPort,
    private readonly opts: { scoresDir: string; size: string; device: string; split?: string; timeoutSeconds?: number },
  ) {
    fs.mkdirSync(opts.scoresDir, { recursive: true });
  }

  /** Each checkpoint's evaluate job id and scores file (a directory of its own: the job may write nothing else). */
  private jobsOf(request: EvaluationRequest): Array<{ jobId: string; checkpoint: string; scores: string }> {
    return request.checkpoints.map((checkpoint, i) => {
      const jobId = `${request.requestId}-eval-${i}`;
      return { jobId, checkpoint, scores: path.join(this.opts.scoresDir, jobId, 'scores.json') };
    });
  }

  private specs(request: EvaluationRequest, snapshotId: string): JobSpec[] {
    const substrate = readSubstrate(request.sandboxPath);
    return this.jobsOf(request).map(({ jobId, checkpoint, scores }) => {
      const values = {
        sandbox: request.sandboxPath,
        checkpoint,
        split: this.opts.split ?? 'dev',
        scores,
        seed: request.seed,
        size: this.opts.size,
        device: this.opts.device,
      };
      return {
        jobId,
        candidateId: request.candidateId,
        round: request.round,
        entrypoint: 'evaluate',
        sandboxPath: request.sandboxPath,
        argv: renderEntrypoint(substrate, 'evaluate', values),
        env: {},
        resources: substrate.resources.evaluate,
        timeoutSeconds: substrate.entrypoints.evaluate.timeoutSeconds ?? this.opts.timeoutSeconds ?? 1800,
        priority: 'normal',
        isolation: { snapshotId, ...entrypointIsolation(substrate, 'evaluate', values) },
      };
    });
  }

  async submit(request: EvaluationRequest, snapshotId: string): Promise<void> {
    for (const spec of this.specs(request, snapshotId)) await this.jobs.submit(spec);
  }

  async wait(request: EvaluationRequest, waitMs: number): Promise<EvaluationResult | null> {
    const deadline = Date.now() + waitMs;
    const result: EvaluationResult = { checkpoints: [], selected: null, failures: [] };
    for (const { jobId, checkpoint, scores } of this.jobsOf(request)) {
      const t = await this.jobs.wait(jobId, Math.max(0, deadline - Date.now()));
      if (!t) return null;
      if (t.status !== 'succeeded') {
        result.failures.push({ checkpoint, reason: `evaluate job ${t.status}${t.reason ? ` (${t.reason})` : ''}` });
        continue;
      }
      try {
        const dev = DevScores.parse(JSON.parse(fs.readFileSync(scores, 'utf8')));
        const info = CheckpointInfo.safeParse(
          JSON.parse(fs.readFileSync(path.join(request.sandboxPath, checkpoint, 'checkpoint.json'), 'utf8')),
        );
        const step = info.success ? info.data.step : Number((checkpoint.match(/(\d+)\/?$/) ?? ['', '0'])[1]);
        const domains: Record<string, number> = {};
        for (const [d, s] of Object.entries(dev.domains)) domains[d] = s.score;
        const e: EvaluatedCheckpoint = { checkpoint, step, seed: request.seed, dev: { overall: dev.overall, domains } };
        result.checkpoints.push(e);
      } catch (err) {
        result.failures.push({ checkpoint, reason: `invalid scores: ${(err as Error).message.slice(0, 300)}` });
      }
    }
    // In-process stand-in for the evaluation service: the same shared rule, over the request's checkpoint order.
    const best = selectCheckpoint(result.checkpoints, request.criterion);
    result.selected = best
      ? { checkpoint: best.chosen.checkpoint, score: best.score, criterion: request.criterion }
      : null;
    return result;
  }
}
