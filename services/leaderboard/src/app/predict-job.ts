import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  SubstrateManifest,
  describeIssues,
  zodIssues,
  type CandidateForked,
  type DataOf,
  type EventOf,
  type JobSpec,
  type SubmissionRequested,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { entrypointIsolation, renderEntrypoint } from '@aevo/substrate-kit';
import { predictJobId } from '../domain/leaderboard';
import type { BoardFiles } from './board-files';

export type PredictJob = { ok: true; job: JobSpec } | { ok: false; problem: string };

export interface PredictJobSettings {
  /** Predict job timeout when the entrypoint declares none. */
  defaultPredictTimeoutSeconds: number;
  defaultSize: string;
}

/**
 * The predict job of a submission, rendered from the manifest of the snapshot the candidate was forked from (never
 * the sandbox's): it may read the prompts file and write only a predictions directory of its own; the answers are
 * not in its view. Whichever board judges the predictions, predict is the same job.
 */
export class PredictJobs {
  /** Parsed manifests by snapshot id: a snapshot's content never changes (its id names it), so one read each. */
  private readonly manifests = new Map<string, SubstrateManifest>();

  constructor(
    private readonly store: EventStore,
    private readonly files: BoardFiles,
    private readonly settings: PredictJobSettings,
  ) {}

  async build(e: EventOf<typeof SubmissionRequested>): Promise<PredictJob> {
    const r = e.data;
    const sandbox = path.resolve(r.sandboxPath);
    const checkpoint = path.resolve(sandbox, r.checkpoint);
    if (checkpoint !== sandbox && !checkpoint.startsWith(sandbox + path.sep))
      return { ok: false, problem: `checkpoint: expected a path inside the sandbox ${sandbox}, got ${r.checkpoint}` };
    const isDir = await fs.stat(checkpoint).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (!isDir)
      return { ok: false, problem: `checkpoint: ${r.checkpoint} is not a directory of the sandbox ${sandbox}` };
    const fork = (await this.store.readAll({ campaignId: e.campaignId, types: ['CandidateForked'] }))
      .map((x) => x.data as DataOf<typeof CandidateForked>)
      .find((d) => d.candidateId === r.candidateId);
    if (!fork)
      return {
        ok: false,
        problem: `candidate ${r.candidateId} has no CandidateForked: the snapshot its sandbox came from is unknown`,
      };
    if (path.resolve(fork.sandboxPath) !== sandbox)
      return {
        ok: false,
        problem: `sandboxPath: expected candidate ${r.candidateId}'s sandbox ${fork.sandboxPath}, got ${r.sandboxPath}`,
      };
    const manifest = await this.manifestOf(fork.snapshotId);
    if (!manifest.ok) return manifest;
    return this.render(e, sandbox, checkpoint, fork.snapshotId, manifest.manifest);
  }

  private async manifestOf(
    snapshotId: string,
  ): Promise<{ ok: true; manifest: SubstrateManifest } | { ok: false; problem: string }> {
    const known = this.manifests.get(snapshotId);
    if (known) return { ok: true, manifest: known };
    const snapshotDir = this.files.snapshotDir(snapshotId);
    try {
      const parsed = SubstrateManifest.safeParse(
        parseYaml(await fs.readFile(path.join(snapshotDir, 'substrate.yaml'), 'utf8')),
      );
      if (!parsed.success)
        return {
          ok: false,
          problem:
            `snapshot ${snapshotId} substrate.yaml does not validate: ` + describeIssues(zodIssues(parsed.error)),
        };
      this.manifests.set(snapshotId, parsed.data);
      return { ok: true, manifest: parsed.data };
    } catch (err) {
      return {
        ok: false,
        problem: `snapshot ${snapshotId} has no readable substrate.yaml in ${snapshotDir}: ${(err as Error).message}`,
      };
    }
  }

  private async render(
    e: EventOf<typeof SubmissionRequested>,
    sandbox: string,
    checkpoint: string,
    snapshotId: string,
    manifest: SubstrateManifest,
  ): Promise<PredictJob> {
    const r = e.data;
    await this.files.ensureBoardDirs(e.campaignId, 'submissions', r.submissionId);
    const predictions = this.files.predictionsPath(e.campaignId, r.submissionId);
    await fs.mkdir(path.dirname(predictions), { recursive: true, mode: 0o755 });
    await fs.rm(predictions, { force: true });
    const info = await fs
      .readFile(path.join(checkpoint, 'checkpoint.json'), 'utf8')
      .then((t) => JSON.parse(t) as { size?: unknown; seed?: unknown })
      .catch(() => null);
    const values = {
      sandbox,
      recipe: path.join(sandbox, manifest.recipe),
      checkpoint,
      prompts: this.files.promptsPath(e.campaignId),
      predictions,
      seed: typeof info?.seed === 'number' ? info.seed : 0,
      size: typeof info?.size === 'string' ? info.size : this.settings.defaultSize,
      device: manifest.resources.predict.gpu > 0 ? 'cuda' : 'cpu',
    };
    let argv: string[];
    let isolation: JobSpec['isolation'];
    try {
      argv = renderEntrypoint(manifest, 'predict', values);
      // No value for {answers} is ever given: a predict entrypoint that declares it cannot be rendered.
      isolation = { snapshotId, ...entrypointIsolation(manifest, 'predict', values) };
    } catch (err) {
      return { ok: false, problem: `predict entrypoint cannot be rendered: ${(err as Error).message}` };
    }
    return {
      ok: true,
      job: {
        jobId: predictJobId(r.submissionId),
        candidateId: r.candidateId,
        round: r.round,
        entrypoint: 'predict',
        sandboxPath: sandbox,
        argv,
        env: {},
        resources: manifest.resources.predict,
        timeoutSeconds: manifest.entrypoints.predict.timeoutSeconds ?? this.settings.defaultPredictTimeoutSeconds,
        priority: 'high',
        isolation,
      },
    };
  }
}
