import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  CampaignStarted,
  CandidateForked,
  JobFailed,
  JobSucceeded,
  SubmissionRequested,
  SubstrateSnapshotted,
  createEvent,
  type EventEnvelope,
  type EventOf,
  type JobSpec,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { bwrapArgs, planIsolation, prepareOutputs, SANDBOX_BASE_ENV } from '@aevo/executors';
import { sampleCampaignLog } from '@aevo/projections';
import { classifyPath, loadSubstrate } from '@aevo/substrate-kit';
import { localJobTerminal } from '@aevo/testkit';

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
    JSON.stringify({
      step: 100,
      seed: 1,
      trainLoss: 0.1,
      recipeSha256: 'x',
      size: 'tiny',
      device: 'cpu',
      diverged: false,
      ...checkpoint,
    }),
  );
  return dir;
}
export const CHECKPOINT = 'runs/seed-1/ckpt/step-000100';

export interface Snapshot {
  snapshotId: string;
  snapshotPath: string;
  frozenSha256: Record<string, string>;
}

/**
 * A substrate placed as `<home>/snapshots/<id>` the way the substrate service takes one (its non-ignored entries,
 * sha256 of every pinned file for SubstrateSnapshotted). The id is random here: only the service derives it.
 */
export function makeSnapshot(home: string, source: string = FIXTURE): Snapshot {
  const loaded = loadSubstrate(source);
  const snapshotId = createHash('sha256').update(randomBytes(16)).digest('hex');
  const snapshotPath = path.join(home, 'snapshots', snapshotId);
  mkdirSync(snapshotPath, { recursive: true });
  const frozenSha256: Record<string, string> = {};
  for (const e of loaded.entries) {
    const to = path.join(snapshotPath, e.path);
    if (e.type === 'dir') mkdirSync(to);
    else if (e.type === 'symlink') symlinkSync(e.linkTarget!, to);
    else if (e.type === 'file') {
      copyFileSync(path.join(loaded.dir, e.path), to);
      if (classifyPath(loaded.rules, e.path) !== 'editable')
        frozenSha256[e.path] = createHash('sha256').update(readFileSync(to)).digest('hex');
    }
  }
  return { snapshotId, snapshotPath, frozenSha256 };
}

export function substrateSnapshotted(campaignId: string, snap: Snapshot) {
  const { manifest } = loadSubstrate(snap.snapshotPath);
  return createEvent(
    SubstrateSnapshotted,
    {
      snapshotId: snap.snapshotId,
      name: manifest.name,
      version: manifest.version,
      snapshotPath: snap.snapshotPath,
      files: Object.keys(snap.frozenSha256).length,
      bytes: 0,
      frozenSha256: snap.frozenSha256,
    },
    { campaignId, streamId: `substrate:${campaignId}`, source: 'substrate' },
  );
}

export function candidateForked(
  campaignId: string,
  candidateId: string,
  sandboxPath: string,
  snapshotId: string,
  round = 1,
) {
  return createEvent(
    CandidateForked,
    {
      round,
      candidateId,
      index: 0,
      axis: 'baseline',
      isAnchor: false,
      seeds: [1],
      snapshotId,
      sandboxPath,
      policyRevision: 0,
    },
    { campaignId, streamId: `substrate:${campaignId}`, source: 'substrate' },
  );
}

/**
 * makeSandbox for candidate n of a campaign, recorded as forked from `snapshotId` (the predict job's manifest source).
 */
export async function forkCandidate(
  store: EventStore,
  root: string,
  campaignId: string,
  n: number,
  checkpoint: Record<string, unknown>,
  snapshotId: string,
  round = 1,
): Promise<string> {
  const candidateId = `${campaignId}-r${round}-c${n}`;
  const dir = makeSandbox(root, candidateId, checkpoint);
  await store.append(`substrate:${campaignId}`, 'any', [
    candidateForked(campaignId, candidateId, dir, snapshotId, round),
  ]);
  return dir;
}

/** A schema-valid CampaignStarted (the policy comes from the projections' sample log). */
export function campaignStarted(
  campaignId: string,
  over: { substratePath: string; leaderboard: 'local' | 'kaggle'; submissionsPerRound: number },
) {
  const sample = sampleCampaignLog({ campaignId })[0] as EventOf<typeof CampaignStarted>;
  const data = {
    ...sample.data,
    config: {
      ...sample.data.config,
      substratePath: over.substratePath,
      leaderboard: over.leaderboard,
      budgets: { ...sample.data.config.budgets, submissionsPerRound: over.submissionsPerRound },
    },
  };
  return createEvent(CampaignStarted, data, { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' });
}

export function submissionRequested(
  campaignId: string,
  n: number,
  sandboxPath: string,
  round = 1,
  checkpoint = CHECKPOINT,
) {
  return createEvent(
    SubmissionRequested,
    {
      round,
      submissionId: `${campaignId}-r${round}-s${n}`,
      candidateId: `${campaignId}-r${round}-c${n}`,
      checkpoint,
      sandboxPath,
      reason: 'best dev',
    },
    { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' },
  );
}

/**
 * Runs a JobRequested spec the way the local executor does (its isolation planned against `home` and mounted by
 * bubblewrap: sandbox read-only, pinned paths from the snapshot, only the declared outputs writable, only the declared
 * inputs visible) and returns the terminal event dispatch would record. The service tests go through dispatch.
 */
export function runJobLikeDispatch(
  campaignId: string,
  spec: JobSpec,
  home: string,
): EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> {
  const plan = planIsolation(spec, home);
  prepareOutputs(plan);
  const args = bwrapArgs(plan, { env: { ...SANDBOX_BASE_ENV, ...spec.env } });
  const r = spawnSync('/usr/bin/bwrap', [...args, '--', ...spec.argv], {
    cwd: spec.sandboxPath,
    encoding: 'utf8',
    env: { ...SANDBOX_BASE_ENV },
  });
  return localJobTerminal(campaignId, spec, r.status, `${r.stdout}${r.stderr}`.slice(-2000));
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
