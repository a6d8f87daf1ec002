import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  CheckpointInfo,
  DomainError,
  SubstrateManifest,
  zodIssues,
  type EventOf,
  type EvaluationRequested,
  type IssueDetail,
  type JobCancelled,
  type JobFailed,
  type JobSpec,
  type JobSucceeded,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { entrypointIsolation, renderEntrypoint } from '@aevo/substrate-kit';
import {
  evalJobId,
  EVALUATION_EVENTS,
  evaluationDecider,
  parseEvalJobId,
  stepOf,
  type EvaluationCommand,
  type EvaluationEvent,
  type EvaluationState,
  type StartedEvaluation,
  type JobOutcome,
} from '../domain/evaluation';
import { dataEventsOf, foldDataEvents, handle, withEnvelopes } from '@aevo/eventstore';
import type { EvaluationConfig } from '../config';
import type { SandboxVerifier } from './sandbox-verifier';

export const streamIdOf = (campaignId: string, requestId: string) => `evaluation:${campaignId}:${requestId}`;
/** Each evaluate job writes its scores into a directory of its own, the only place it may write. */
export const scoresPathOf = (cfg: EvaluationConfig, campaignId: string, requestId: string, index: number) =>
  path.join(path.resolve(cfg.aevoHome), 'evaluation', campaignId, requestId, String(index), 'scores.json');

const KNOWN: ReadonlySet<string> = EVALUATION_EVENTS.types;

/**
 * The evaluation service's use cases, free of Nest and NATS: an EvaluationRequested is verified, its evaluate
 * jobs requested through dispatch; each job's terminal event is turned into a checkpoint's scores or failure.
 * All state lives in the event store, so a redelivered message or a second replica decides nothing twice.
 */
export class EvaluationWorkflow {
  /** Parsed manifests by snapshot id (see snapshotManifest). */
  private readonly manifests = new Map<string, SubstrateManifest>();

  constructor(
    private readonly store: EventStore,
    private readonly verifier: SandboxVerifier,
    private readonly cfg: EvaluationConfig,
  ) {}

  async onEvaluationRequested(e: EventOf<typeof EvaluationRequested>): Promise<EvaluationEvent[]> {
    const r = e.data;
    const ctx = {
      campaignId: e.campaignId,
      streamId: streamIdOf(e.campaignId, r.requestId),
      source: 'evaluation' as const,
      causationId: e.id,
      correlationId: e.correlationId ?? e.id,
    };
    // Cheap redelivery check first: verification hashes files, and a started request needs none.
    if ((await this.store.streamVersion(ctx.streamId)) > 0) return [];
    const verification = await this.verifier.verify({
      campaignId: e.campaignId,
      candidateId: r.candidateId,
      round: r.round,
      sandboxPath: r.sandboxPath,
      reason: `evaluation ${r.requestId}`,
      paths: r.checkpoints,
    });
    const jobs = verification.ok
      ? await this.buildJobs(e, verification.snapshotId)
      : { ok: false as const, issues: [] };
    const command: EvaluationCommand = { type: 'StartEvaluation', request: r, verification, jobs };
    return dataEventsOf(await handle(this.store, ctx.streamId, withEnvelopes(evaluationDecider, ctx, KNOWN), command));
  }

  async onJobTerminal(
    e: EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> | EventOf<typeof JobCancelled>,
  ): Promise<EvaluationEvent[]> {
    const parsed = parseEvalJobId(e.data.jobId);
    if (!parsed) return [];
    const streamId = streamIdOf(e.campaignId, parsed.requestId);
    const ctx = {
      campaignId: e.campaignId,
      streamId,
      source: 'evaluation' as const,
      causationId: e.id,
      correlationId: e.correlationId,
    };
    // One read answers both "is this our evaluation?" (an empty stream has no request) and "is it still pending?".
    const state = await this.loadState(streamId);
    if (state.status !== 'running' || state.checkpoints[parsed.index]?.status !== 'pending') return [];
    // Read from disk once, outside the append retry loop; the decider ignores an outcome already recorded.
    const outcome = await this.readOutcome(e, state, parsed.index);
    const command: EvaluationCommand = { type: 'RecordJobOutcome', jobId: e.data.jobId, outcome };
    return dataEventsOf(await handle(this.store, streamId, withEnvelopes(evaluationDecider, ctx, KNOWN), command));
  }

  private async loadState(streamId: string): Promise<EvaluationState> {
    const stored = await this.store.readStream(streamId);
    return foldDataEvents(evaluationDecider, stored, KNOWN);
  }

  private async readOutcome(
    e: { type: string; campaignId: string; data: { jobId: string } & Record<string, unknown> },
    state: StartedEvaluation,
    index: number,
  ): Promise<JobOutcome> {
    const r = state.request;
    if (e.type === 'JobFailed') {
      const d = e.data as EventOf<typeof JobFailed>['data'];
      return {
        kind: 'failed',
        reason: `${d.reason}${d.exitCode !== null ? ` (exit ${d.exitCode})` : ''}: ${d.message}`,
      };
    }
    if (e.type === 'JobCancelled')
      return { kind: 'failed', reason: `cancelled: ${(e.data as EventOf<typeof JobCancelled>['data']).reason}` };
    const file = scoresPathOf(this.cfg, e.campaignId, r.requestId, index);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      return { kind: 'unreadable-scores', reason: `evaluate exited 0 but wrote no scores file at ${file}` };
    }
    let scores: unknown;
    try {
      scores = JSON.parse(text);
    } catch (err) {
      return { kind: 'unreadable-scores', reason: `scores file ${file} is not JSON: ${(err as Error).message}` };
    }
    const ckptDir = path.join(r.sandboxPath, r.checkpoints[index]);
    const info = await readCheckpointInfo(ckptDir);
    return { kind: 'succeeded', scores, step: stepOf(r.checkpoints[index], info) ?? index };
  }

  /**
   * A snapshot's manifest, read once per snapshot: snapshots are immutable (content-addressed and read-only), so a
   * round's evaluations share one parse instead of re-reading the YAML per request. Failures are not cached.
   */
  private async snapshotManifest(snapshotId: string): Promise<SubstrateManifest> {
    const cached = this.manifests.get(snapshotId);
    if (cached) return cached;
    const manifest = await readManifest(path.join(path.resolve(this.cfg.aevoHome), 'snapshots', snapshotId));
    if (this.manifests.size >= MANIFEST_CACHE_SIZE) this.manifests.delete(this.manifests.keys().next().value as string);
    this.manifests.set(snapshotId, manifest);
    return manifest;
  }

  /**
   * The evaluate job of every checkpoint, rendered from the snapshot's substrate.yaml (never the sandbox's): the
   * job runs the snapshot's harness, mounted read-only over the sandbox, and may write only its scores directory.
   */
  private async buildJobs(
    e: EventOf<typeof EvaluationRequested>,
    snapshotId: string,
  ): Promise<{ ok: true; specs: JobSpec[] } | { ok: false; issues: IssueDetail[] }> {
    const r = e.data;
    const issues: IssueDetail[] = [];
    let manifest: SubstrateManifest;
    try {
      manifest = await this.snapshotManifest(snapshotId);
    } catch (err) {
      return {
        ok: false,
        issues:
          err instanceof DomainError && err.issues.length
            ? err.issues
            : [{ path: 'snapshotId', message: (err as Error).message }],
      };
    }
    const specs: JobSpec[] = [];
    for (const [i, rel] of r.checkpoints.entries()) {
      const dir = path.join(r.sandboxPath, rel);
      const st = await fs.stat(dir).catch(() => null);
      if (!st?.isDirectory()) {
        issues.push({ path: `checkpoints.${i}`, message: `${rel} is not a directory of the sandbox ${r.sandboxPath}` });
        continue;
      }
      const info = await readCheckpointInfo(dir);
      const scores = scoresPathOf(this.cfg, e.campaignId, r.requestId, i);
      await fs.mkdir(path.dirname(scores), { recursive: true });
      await fs.rm(scores, { force: true });
      const values = {
        sandbox: r.sandboxPath,
        recipe: path.join(r.sandboxPath, manifest.recipe),
        checkpoint: dir,
        split: this.cfg.split,
        scores,
        seed: r.seed,
        size: typeof info?.size === 'string' ? info.size : this.cfg.defaultSize,
        device: manifest.resources.evaluate.gpu > 0 ? 'cuda' : 'cpu',
      };
      let argv: string[];
      let isolation: JobSpec['isolation'];
      try {
        argv = renderEntrypoint(manifest, 'evaluate', values);
        isolation = { snapshotId, ...entrypointIsolation(manifest, 'evaluate', values) };
      } catch (err) {
        issues.push(
          ...(err instanceof DomainError
            ? err.issues.map((x) => ({ ...x, path: `entrypoints.evaluate.${x.path}` }))
            : [{ path: 'entrypoints.evaluate', message: String(err) }]),
        );
        continue;
      }
      specs.push({
        jobId: evalJobId(r.requestId, i),
        candidateId: r.candidateId,
        round: r.round,
        entrypoint: 'evaluate',
        sandboxPath: r.sandboxPath,
        argv,
        env: {},
        resources: manifest.resources.evaluate,
        timeoutSeconds: manifest.entrypoints.evaluate.timeoutSeconds ?? this.cfg.defaultTimeoutSeconds,
        priority: 'high',
        isolation,
      });
    }
    return issues.length > 0 ? { ok: false, issues } : { ok: true, specs };
  }
}

const MANIFEST_CACHE_SIZE = 64;

async function readManifest(sandboxPath: string): Promise<SubstrateManifest> {
  const file = path.join(sandboxPath, 'substrate.yaml');
  let raw: unknown;
  try {
    raw = parseYaml(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new DomainError('SUBSTRATE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed = SubstrateManifest.safeParse(raw);
  if (!parsed.success)
    throw new DomainError('SUBSTRATE_INVALID', `${file} does not validate`, zodIssues(parsed.error, 'substrate.yaml'));
  return parsed.data;
}

async function readCheckpointInfo(dir: string): Promise<CheckpointInfo | null> {
  try {
    const parsed = CheckpointInfo.safeParse(JSON.parse(await fs.readFile(path.join(dir, 'checkpoint.json'), 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
