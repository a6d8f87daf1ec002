import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  CampaignStarted,
  JobFailed,
  JobSucceeded,
  SubmissionRequested,
  createEvent,
  type EventEnvelope,
  type EventOf,
  type JobSpec,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { sampleCampaignLog } from '@aevo/projections';

export const FIXTURE = path.join(__dirname, 'fixtures', 'tiny-substrate');

export function tempHome(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A sandbox as the substrate service would fork it, with one trained checkpoint. */
export function makeSandbox(root: string, name: string, checkpoint: Record<string, unknown>): string {
  const dir = path.join(root, 'sandboxes', name);
  cpSync(FIXTURE, dir, { recursive: true });
  const ckpt = path.join(dir, 'runs', 'seed-1', 'ckpt', 'step-000100');
  mkdirSync(ckpt, { recursive: true });
  writeFileSync(
    path.join(ckpt, 'checkpoint.json'),
    JSON.stringify({ step: 100, seed: 1, trainLoss: 0.1, recipeSha256: 'x', size: 'tiny', device: 'cpu', diverged: false, ...checkpoint }),
  );
  return dir;
}
export const CHECKPOINT = 'runs/seed-1/ckpt/step-000100';

/** A schema-valid CampaignStarted (the policy comes from the projections' sample log). */
export function campaignStarted(campaignId: string, over: { substratePath: string; leaderboard: 'local' | 'kaggle'; submissionsPerRound: number }) {
  const sample = sampleCampaignLog({ campaignId })[0] as EventOf<typeof CampaignStarted>;
  const data = { ...sample.data, config: { ...sample.data.config, substratePath: over.substratePath, leaderboard: over.leaderboard, budgets: { ...sample.data.config.budgets, submissionsPerRound: over.submissionsPerRound } } };
  return createEvent(CampaignStarted, data, { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' });
}

export function submissionRequested(campaignId: string, n: number, sandboxPath: string, round = 1, checkpoint = CHECKPOINT) {
  return createEvent(
    SubmissionRequested,
    { round, submissionId: `${campaignId}-r${round}-s${n}`, candidateId: `${campaignId}-r${round}-c${n}`, checkpoint, sandboxPath, reason: 'best dev' },
    { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' },
  );
}

/**
 * Runs a JobRequested spec the way the local executor does (argv, cwd = sandbox), and returns the terminal event
 * dispatch would record. Used where a test drives a workflow directly; the service tests go through dispatch.
 */
export function runJobLikeDispatch(campaignId: string, spec: JobSpec): EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> {
  const r = spawnSync(spec.argv[0], spec.argv.slice(1), { cwd: spec.sandboxPath, encoding: 'utf8', env: { ...process.env, ...spec.env } });
  const ctx = { campaignId, streamId: `job:${spec.jobId}`, source: 'dispatch' as const };
  const common = { jobId: spec.jobId, candidateId: spec.candidateId, round: spec.round, gpuSeconds: 0, wallSeconds: 0.1, logTail: `${r.stdout}${r.stderr}`.slice(-2000), logPath: null, executor: 'local' as const, gpuCount: 0, budgetUnit: 'cpu-slot-seconds' as const };
  if (r.status === 0) return createEvent(JobSucceeded, { ...common, exitCode: 0 } as never, ctx) as EventOf<typeof JobSucceeded>;
  return createEvent(JobFailed, { ...common, exitCode: r.status, reason: 'exit-code', message: `exited with ${r.status}` } as never, ctx) as EventOf<typeof JobFailed>;
}

export async function jobsRequested(store: EventStore, campaignId: string): Promise<JobSpec[]> {
  return (await store.readAll({ campaignId, types: ['JobRequested'] })).map((e) => (e.data as { spec: JobSpec }).spec);
}

export async function typesOf(store: EventStore, streamId: string): Promise<string[]> {
  return (await store.readStream(streamId)).map((e) => e.type);
}

/** Every regular file under `dir`, as text (binary files too: a secret must not appear in any byte sequence). */
export function filesUnder(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push({ file: p, text: readFileSync(p, 'latin1') });
    }
  };
  walk(dir);
  return out;
}

export const asJson = (events: readonly EventEnvelope[]) => events.map((e) => JSON.stringify(e)).join('\n');
