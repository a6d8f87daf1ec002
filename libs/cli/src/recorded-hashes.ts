import * as fs from 'node:fs';
import * as path from 'node:path';
import { contentHash, sha256Hex, type EventEnvelope, type RollingPolicy } from '@aevo/contracts';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import { replayRoundEvidence } from '@aevo/evidence';
import { freezeConstitution, replayPolicyRevisions } from '@aevo/policy-engine';
import { DEFAULT_WORKER_BRIEF_FILE, DEFAULT_WORKER_BRIEF_PATH } from '@aevo/worker-kit';
import { checkRecordedReports } from './report-hash';
import { REPO_ROOT } from './stack';

export interface HashCheck {
  campaignId: string;
  what: string;
  ok: boolean;
  detail: string;
}

export interface RecordedHashReport {
  checks: HashCheck[];
  /** Checks that could not run (e.g. a constitution file no longer readable), with why. */
  skipped: string[];
}

/** Where a constitution path recorded in a campaign may be found now. */
function findFile(p: string, roots: string[]): string | null {
  if (path.isAbsolute(p)) return fs.existsSync(p) ? p : null;
  for (const r of roots) {
    const candidate = path.resolve(r, p);
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/** Every stored event at positions 1..upTo, read in pages. */
export async function readLogUpTo(store: EventStore, upTo: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let from = 0; from < upTo;) {
    const page = await store.readAll({ fromPosition: from, limit: 5000 });
    if (page.length === 0) break;
    for (const e of page) if (e.position <= upTo) events.push(e);
    from = page[page.length - 1].position;
  }
  return events;
}

/**
 * Re-derives what the log recorded as hashes and compares: each round's evidence recomputed from exactly its
 * input events (RoundEvidenceRecorded.evidenceSha256), each policy revision re-decided from the recorded
 * evidence and the pinned constitution (PolicyRevised, whole data), each policy's content hash where RoundStarted,
 * PolicyRevised and RoundClosed name it, RoundClosed's evidence hash, and each campaign report's hash (re-rendered from
 * the log up to its CampaignCompleted). Policy revisions are re-decided only
 * when the constitution file still hashes to the campaign's pin (otherwise the report says it skipped them).
 */
export async function checkRecordedHashes(
  store: EventStore,
  upTo: number,
  env: NodeJS.ProcessEnv,
): Promise<RecordedHashReport> {
  const events = await readLogUpTo(store, upTo);
  const checks: HashCheck[] = [];
  const skipped: string[] = [];
  const campaigns = [...new Set(events.filter((e) => e.type === 'CampaignStarted').map((e) => e.campaignId))].sort();
  const roots = [env.AEVO_ROOT ?? process.cwd(), REPO_ROOT, path.join(REPO_ROOT, 'services', 'orchestrator')];
  for (const c of campaigns) {
    const mine = events.filter((e) => e.campaignId === c);
    const started = mine.find((e) => e.type === 'CampaignStarted') as EventEnvelope & {
      data: { config: { constitutionPath: string }; constitutionSha256: string; initialPolicy: RollingPolicy };
    };
    const policies = new Map<number, string>([
      [started.data.initialPolicy.revision, contentHash(started.data.initialPolicy)],
    ]);
    const evidence = new Map<number, string>();
    for (const e of mine) {
      if (e.type === 'PolicyRevised') {
        const d = e.data as { round: number; policy: RollingPolicy; policySha256: string };
        const h = contentHash(d.policy);
        policies.set(d.policy.revision, h);
        checks.push({
          campaignId: c,
          what: `PolicyRevised r${d.policy.revision} policySha256`,
          ok: h === d.policySha256,
          detail: `${d.policySha256} recomputed ${h}`,
        });
      }
      if (e.type === 'RoundEvidenceRecorded') {
        const d = e.data as { round: number; evidenceSha256: string; evidence: unknown };
        evidence.set(d.round, d.evidenceSha256);
      }
    }
    for (const e of mine) {
      if (e.type === 'RoundStarted') {
        const d = e.data as { round: number; policyRevision: number; policySha256: string };
        const h = policies.get(d.policyRevision);
        checks.push({
          campaignId: c,
          what: `RoundStarted ${d.round} policySha256 (revision ${d.policyRevision})`,
          ok: h === d.policySha256,
          detail: `${d.policySha256} vs ${h ?? 'no such revision'}`,
        });
      }
      if (e.type === 'RoundClosed') {
        const d = e.data as {
          round: number;
          policyRevision: number;
          policySha256?: string;
          evidenceSha256?: string | null;
        };
        if (d.policySha256 !== undefined)
          checks.push({
            campaignId: c,
            what: `RoundClosed ${d.round} policySha256`,
            ok: policies.get(d.policyRevision) === d.policySha256,
            detail: `${d.policySha256} vs ${policies.get(d.policyRevision)}`,
          });
        if (d.evidenceSha256)
          checks.push({
            campaignId: c,
            what: `RoundClosed ${d.round} evidenceSha256`,
            ok: evidence.get(d.round) === d.evidenceSha256,
            detail: `${d.evidenceSha256} vs ${evidence.get(d.round)}`,
          });
      }
    }
    try {
      for (const r of replayRoundEvidence(c, mine))
        checks.push({
          campaignId: c,
          what: `RoundEvidenceRecorded ${r.round} recomputed from its inputs`,
          ok: r.equal,
          detail: `${r.recordedSha256} replayed ${r.replayedSha256}`,
        });
    } catch (err) {
      checks.push({ campaignId: c, what: 'RoundEvidenceRecorded inputs', ok: false, detail: (err as Error).message });
    }
    checkWorkerBriefs(c, mine, checks, skipped);
    checkRecordedReports(c, mine, checks, skipped);
    const file = findFile(started.data.config.constitutionPath, roots);
    if (!file) {
      skipped.push(
        `${c}: constitution ${started.data.config.constitutionPath} not found here; policy revisions not re-decided`,
      );
      continue;
    }
    const source = fs.readFileSync(file, 'utf8');
    // The file on disk is not part of the log: when it changed since, the revisions cannot be re-decided here.
    if (sha256Hex(Buffer.from(source, 'utf8')) !== started.data.constitutionSha256) {
      skipped.push(
        `${c}: ${file} no longer matches the constitution pinned in CampaignStarted; policy revisions not re-decided`,
      );
      continue;
    }
    for (const r of replayPolicyRevisions(c, mine, freezeConstitution(source, file)))
      checks.push({
        campaignId: c,
        what: `PolicyRevised r${r.revision} re-decided from the recorded evidence`,
        ok: r.equal,
        detail: `${r.recordedSha256} replayed ${r.replayedSha256 ?? 'nothing'}`,
      });
  }
  return { checks, skipped };
}

type BriefRef = { source: 'default' | 'substrate'; path: string; sha256: string };

/**
 * The briefs a campaign's model-driven workers recorded in WorkerStarted: one campaign, one brief (workers given
 * different rules is a finding), and the file still hashing to the pin — the snapshot's copy for a substrate's own
 * brief (snapshots are immutable: a mismatch is a finding), the installed default for worker-kit's (it may have been
 * edited since the campaign: then the check is reported as skipped, as for the constitution).
 */
function checkWorkerBriefs(c: string, mine: EventEnvelope[], checks: HashCheck[], skipped: string[]): void {
  const briefs = new Map<string, { brief: BriefRef; workers: number }>();
  for (const e of mine) {
    if (e.type !== 'WorkerStarted') continue;
    const brief = (e.data as { brief?: BriefRef }).brief;
    if (!brief) continue;
    const key = `${brief.source}:${brief.path}:${brief.sha256}`;
    const seen = briefs.get(key);
    if (seen) seen.workers++;
    else briefs.set(key, { brief, workers: 1 });
  }
  if (briefs.size === 0) return;
  const all = [...briefs.values()];
  checks.push({
    campaignId: c,
    what: 'WorkerStarted briefs: one brief for every worker of the campaign',
    ok: all.length === 1,
    detail: all
      .map((b) => `${b.brief.source} ${b.brief.path} ${b.brief.sha256} (${b.workers} worker start(s))`)
      .join('; '),
  });
  const snapshot = mine.find((e) => e.type === 'SubstrateSnapshotted') as
    (EventEnvelope & { data: { snapshotPath: string } }) | undefined;
  for (const { brief } of all) {
    const file =
      brief.source === 'default'
        ? DEFAULT_WORKER_BRIEF_FILE
        : snapshot
          ? path.join(snapshot.data.snapshotPath, brief.path)
          : null;
    let text: Buffer | null = null;
    try {
      if (file && fs.statSync(file).isFile()) text = fs.readFileSync(file);
    } catch {
      text = null;
    }
    if (!text) {
      skipped.push(
        `${c}: worker brief ${brief.path} not found here (${file ?? 'no SubstrateSnapshotted'}); its hash ` +
          `not re-checked`,
      );
      continue;
    }
    const now = sha256Hex(text);
    if (brief.source === 'default' && brief.path === DEFAULT_WORKER_BRIEF_PATH && now !== brief.sha256) {
      skipped.push(
        `${c}: the installed default worker brief (${file}) changed since the campaign; its pin ` +
          `${brief.sha256} not re-checked`,
      );
      continue;
    }
    checks.push({
      campaignId: c,
      what: `WorkerStarted brief ${brief.path} sha256`,
      ok: now === brief.sha256,
      detail: `${brief.sha256} vs ${file} ${now}`,
    });
  }
}
