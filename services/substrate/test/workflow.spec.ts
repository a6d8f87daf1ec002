import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { snapshotDamageReason, type EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { SubstrateWorkflow, substrateConfigFromEnv, substrateStreamId } from '../src/app/substrate-workflow';
import { DEFAULT_GC_POLICY } from '../src/domain/substrate';
import { removeTree } from '../src/fs/snapshot-store';
import { hashFile } from '../src/fs/hash';
import {
  campaignStarted,
  candidateIds,
  jobRequested,
  jobStarted,
  jobSucceeded,
  manifestSubmitted,
  policyRevised,
  roundClosed,
  roundStarted,
  submissionRequested,
} from './events';

jest.setTimeout(120_000);

/** The workflow against the real PostgreSQL event store and a real file system (no transport). */
describe('SubstrateWorkflow on PostgreSQL', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let tmp: string;
  let wf: SubstrateWorkflow;
  let substrate: string;
  let n = 0;

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 4 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-wf-'));
    substrate = writeSubstrateFixture(path.join(tmp, 'substrate'));
    wf = new SubstrateWorkflow(store, { home: path.join(tmp, 'home'), substrateRoot: tmp, gc: DEFAULT_GC_POLICY });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
    removeTree(tmp);
  });

  const append = async (...events: EventEnvelope[]) => {
    for (const e of events) await store.append(e.streamId, 'any', [e]);
  };
  const ours = async (campaignId: string, type?: string) =>
    (await store.readStream(substrateStreamId(campaignId))).filter((e) => type === undefined || e.type === type);
  const newCampaign = async (standingRecipe: Record<string, unknown> = {}, substratePath = 'substrate') => {
    const id = `camp-${++n}`;
    await append(campaignStarted(id, substratePath, standingRecipe));
    return id;
  };

  it('takes one snapshot when CampaignStarted and RoundStarted are handled at the same time', async () => {
    const c = await newCampaign();
    await append(roundStarted(c, 1, candidateIds(1, 2)));
    const taken: string[] = [];
    const concurrent = new SubstrateWorkflow(store, { home: path.join(tmp, 'home'), substrateRoot: tmp, gc: DEFAULT_GC_POLICY }, {
      log: (m) => (m.includes('snapshotted') ? taken.push(m) : undefined),
      warn: () => undefined,
    });
    const [snap, forked] = await Promise.all([concurrent.ensureSnapshot(c), concurrent.forkRound(c, 1)]);
    expect(forked).toEqual(['r1-c0', 'r1-c1']);
    expect(taken).toHaveLength(1);
    expect(await ours(c, 'SubstrateSnapshotted')).toHaveLength(1);
    expect((await ours(c, 'CandidateForked')).every((e) => (e.data as { snapshotId: string }).snapshotId === snap!.snapshotId)).toBe(true);
  });

  it('snapshots once per campaign and forks every candidate of a round once, even when RoundStarted is redelivered', async () => {
    const c = await newCampaign({ lr: 0.01 });
    const snap = await wf.ensureSnapshot(c);
    expect(snap).not.toBeNull();
    await append(roundStarted(c, 1, candidateIds(1, 3)));
    expect(await wf.forkRound(c, 1)).toEqual(['r1-c0', 'r1-c1', 'r1-c2']);
    expect(await wf.forkRound(c, 1)).toEqual([]); // redelivery
    expect(await wf.ensureSnapshot(c)).toEqual(snap);

    const snapshotted = await ours(c, 'SubstrateSnapshotted');
    expect(snapshotted).toHaveLength(1);
    expect(snapshotted[0].data).toMatchObject({ snapshotId: snap!.snapshotId, name: 'fixture', frozenSha256: expect.objectContaining({ 'harness/metric.py': expect.stringMatching(/^[0-9a-f]{64}$/) }) });
    const forked = await ours(c, 'CandidateForked');
    expect(forked.map((e) => (e.data as { candidateId: string }).candidateId)).toEqual(['r1-c0', 'r1-c1', 'r1-c2']);
    const first = forked[0].data as { sandboxPath: string; snapshotId: string; isAnchor: boolean; policyRevision: number };
    expect(first).toMatchObject({ snapshotId: snap!.snapshotId, isAnchor: true, policyRevision: 0, sandboxPath: path.join(tmp, 'home', 'sandboxes', c, 'r1-c0') });
    expect(parse(fs.readFileSync(path.join(first.sandboxPath, 'recipe.yaml'), 'utf8')).lr).toBe(0.01);
  });

  it('forks later rounds with the standing recipe of the revised policy; the snapshot never changes', async () => {
    const c = await newCampaign({ lr: 0.01 });
    await append(roundStarted(c, 1, candidateIds(1, 1)));
    await wf.forkRound(c, 1);
    await append(policyRevised(c, 1, 1, { lr: 0.02, mix: { equation: 3 } }), roundStarted(c, 2, candidateIds(2, 2), 1));
    await wf.forkRound(c, 2);
    const r2 = parse(fs.readFileSync(path.join(tmp, 'home', 'sandboxes', c, 'r2-c1', 'recipe.yaml'), 'utf8'));
    expect(r2).toEqual({ lr: 0.02, steps: 100, mix: { gravity: 1, cipher: 1, equation: 3 } });
    const snap = (await ours(c, 'SubstrateSnapshotted'))[0].data as { snapshotPath: string };
    expect(parse(fs.readFileSync(path.join(snap.snapshotPath, 'recipe.yaml'), 'utf8')).lr).toBe(0.001);
  });

  it('a round whose policy revision is not in the log is refused (retried later), nothing forked', async () => {
    const c = await newCampaign();
    await append(roundStarted(c, 1, candidateIds(1, 1), 5));
    await expect(wf.forkRound(c, 1)).rejects.toThrow(/policy revision 5/);
    expect(await ours(c, 'CandidateForked')).toEqual([]);
  });

  it('records a rejected substrate once and forks nothing from it', async () => {
    const bad = writeSubstrateFixture(path.join(tmp, 'bad'), { manifest: { editable: ['recipe.yaml', 'pipeline/**', 'harness/**'] } });
    const c = await newCampaign({}, path.relative(tmp, bad));
    await append(roundStarted(c, 1, candidateIds(1, 2)));
    expect(await wf.forkRound(c, 1)).toEqual([]);
    expect(await wf.ensureSnapshot(c)).toBeNull();
    const rejected = await ours(c, 'SubstrateRejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0].data as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual(['frozen.0']);
  });

  it('refuses and records each escape attempt; the other candidates of the round stay valid and finish', async () => {
    const c = await newCampaign();
    await append(roundStarted(c, 1, candidateIds(1, 5)));
    await wf.forkRound(c, 1);
    const sb = (id: string) => path.join(tmp, 'home', 'sandboxes', c, id);
    fs.appendFileSync(path.join(sb('r1-c1'), 'recipe.yaml'), 'extra: 1\n'); // allowed
    // c1: frozen file modified (replaced), c2: symlink to /etc/passwd, c3: symlink into a frozen path, c4: asked about a ../ path
    fs.unlinkSync(path.join(sb('r1-c1'), 'harness/metric.py'));
    fs.writeFileSync(path.join(sb('r1-c1'), 'harness/metric.py'), 'def score(a, b): return True\n');
    fs.symlinkSync('/etc/passwd', path.join(sb('r1-c2'), 'pipeline/passwd'));
    fs.symlinkSync('../harness/metric.py', path.join(sb('r1-c3'), 'pipeline/metric.py'));

    const results = await Promise.all([
      wf.verify(c, 'r1-c0', 'before-evaluation', ['runs/seed-1/step-000010']),
      wf.verify(c, 'r1-c1', 'before-evaluation'),
      wf.verify(c, 'r1-c2', 'before-evaluation'),
      wf.verify(c, 'r1-c3', 'before-evaluation'),
    ]);
    expect(results.map((r) => [r.candidateId, r.valid, r.violations.map((v) => v.kind)])).toEqual([
      ['r1-c0', true, []],
      ['r1-c1', false, ['frozen-modified']],
      ['r1-c2', false, ['symlink-escape']],
      ['r1-c3', false, ['symlink-into-frozen']],
    ]);
    // An escaping path is the asker's bad input, not the candidate's violation: refused, nothing recorded, c4 intact.
    for (const p of ['../r1-c0/recipe.yaml', '/etc/passwd'])
      await expect(wf.verify(c, 'r1-c4', 'before-evaluation', [p])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', issues: [{ path: 'paths.0' }] });
    expect(await wf.verify(c, 'r1-c4', 'before-evaluation')).toMatchObject({ valid: true, recorded: 0 });
    const violated = await ours(c, 'FrozenPathViolated');
    expect(violated.map((e) => (e.data as { candidateId: string }).candidateId).sort()).toEqual(['r1-c1', 'r1-c2', 'r1-c3']);

    // checked again at round close: recorded violations are not repeated, the invalid stays invalid
    await append(manifestSubmitted(c, 1, 'r1-c2'), manifestSubmitted(c, 1, 'r1-c0'));
    expect(await wf.verifyAtRoundClose(c, 'r1-c2')).toMatchObject({ valid: false, recorded: 0 });
    expect(await wf.verifyAtRoundClose(c, 'r1-c0')).toMatchObject({ valid: true, recorded: 0 });
    expect(await ours(c, 'FrozenPathViolated')).toHaveLength(3);
    // a later check of an invalidated candidate whose sandbox looks clean still says invalid
    fs.unlinkSync(path.join(sb('r1-c3'), 'pipeline/metric.py'));
    expect(await wf.verify(c, 'r1-c3', 'on-demand')).toMatchObject({ valid: false, violations: [], recorded: 0 });
  });

  it('answers a retried verification command with the first answer', async () => {
    const c = await newCampaign();
    await append(roundStarted(c, 1, candidateIds(1, 1)));
    await wf.forkRound(c, 1);
    const first = await wf.verify(c, 'r1-c0', 'before-evaluation', [], { commandId: `substrate:VerifySandbox:cmd-${c}` });
    fs.symlinkSync('/etc', path.join(tmp, 'home', 'sandboxes', c, 'r1-c0', 'pipeline/etc'));
    expect(await wf.verify(c, 'r1-c0', 'before-evaluation', [], { commandId: `substrate:VerifySandbox:cmd-${c}` })).toEqual(first);
    expect((await wf.verify(c, 'r1-c0', 'before-evaluation')).valid).toBe(false);
  });

  it('refuses to verify unknown or unforked candidates, naming the field', async () => {
    const c = await newCampaign();
    await expect(wf.verify(c, 'ghost', 'on-demand')).rejects.toMatchObject({ code: 'CANDIDATE_NOT_FOUND', issues: [{ path: 'candidateId', message: expect.any(String) }] });
    await append(roundStarted(c, 1, candidateIds(1, 1)));
    await expect(wf.verify(c, 'r1-c0', 'on-demand')).rejects.toMatchObject({ code: 'NOT_FORKED' });
  });

  it('collects old sandboxes by policy, never one a job still uses, and retries it when the job ends', async () => {
    const c = await newCampaign();
    const sb = (id: string) => path.join(tmp, 'home', 'sandboxes', c, id);
    await append(roundStarted(c, 1, candidateIds(1, 3)));
    await wf.forkRound(c, 1);
    await append(
      jobRequested(c, `${c}-j1`, 'r1-c1', 1, sb('r1-c1')),
      jobStarted(c, `${c}-j1`, 'r1-c1'),
      submissionRequested(c, 1, 'r1-c2', sb('r1-c2')),
      roundClosed(c, 1),
      roundStarted(c, 2, candidateIds(2, 1)),
    );
    await wf.forkRound(c, 2);
    await append(roundClosed(c, 2), roundStarted(c, 3, candidateIds(3, 1)));
    await wf.forkRound(c, 3);

    expect(await wf.collectGarbage(c)).toEqual(['r1-c0']);
    expect(fs.existsSync(sb('r1-c0'))).toBe(false);
    expect(fs.existsSync(sb('r1-c1'))).toBe(true); // its job is running
    expect(fs.existsSync(sb('r1-c2'))).toBe(true); // a winner
    expect(await wf.collectGarbage(c)).toEqual([]);

    await append(jobSucceeded(c, `${c}-j1`, 'r1-c1', 1));
    expect(await wf.collectGarbage(c)).toEqual(['r1-c1']);
    expect(fs.existsSync(sb('r1-c1'))).toBe(false);
    const collected = await ours(c, 'SandboxCollected');
    expect(collected.map((e) => e.data)).toEqual([
      { candidateId: 'r1-c0', sandboxPath: sb('r1-c0'), bytesFreed: expect.any(Number) },
      { candidateId: 'r1-c1', sandboxPath: sb('r1-c1'), bytesFreed: expect.any(Number) },
    ]);
    await expect(wf.verify(c, 'r1-c0', 'on-demand')).rejects.toMatchObject({ code: 'SANDBOX_COLLECTED' });
  });

  describe('a snapshot damaged on the host', () => {
    type Snapshotted = { snapshotId: string; snapshotPath: string; frozenSha256: Record<string, string> };
    type Damaged = { snapshotId: string; files: Array<{ path: string; expected: string; actual: string }>; outcome: string; detectedAt: string; quarantinedAt: string | null; sourceSnapshotId: string | null; moreFiles: number };
    /** A substrate of its own per test (its own snapshot id), so that damaging it touches no other test's campaign. */
    const ownSubstrate = (name: string) => {
      writeSubstrateFixture(path.join(tmp, name), { files: { 'harness/tag.py': `TAG = ${JSON.stringify(name)}\n` } });
      return name;
    };
    /** A hostile process with the owner's or root's rights: chmod +w, then write in place (the inode stays). */
    const tamper = (file: string, text = 'def score(a, b):\n    return True\n') => {
      fs.chmodSync(file, 0o644);
      fs.appendFileSync(file, text);
      fs.chmodSync(file, 0o444);
    };
    const snapshotOf = async (c: string) => (await ours(c, 'SubstrateSnapshotted'))[0].data as Snapshotted;
    const damagedOf = async (c: string) => (await ours(c, 'SnapshotDamaged')).map((e) => e.data as Damaged);
    const sb = (c: string, id: string, rel = '') => path.join(tmp, 'home', 'sandboxes', c, id, rel);
    const ino = (p: string) => fs.statSync(p).ino;

    it('given a pinned file written in place, when the next round forks, then the snapshot is quarantined, rebuilt (same id), recorded, and new forks are pristine', async () => {
      const c = await newCampaign({}, ownSubstrate('dmg-rebuilt'));
      await append(roundStarted(c, 1, candidateIds(1, 2)));
      await wf.forkRound(c, 1);
      const snap = await snapshotOf(c);
      const metric = path.join(snap.snapshotPath, 'harness/metric.py');
      tamper(metric);
      const damagedSha = await hashFile(metric);

      await append(roundStarted(c, 2, candidateIds(2, 2)));
      expect(await wf.forkRound(c, 2)).toEqual(['r2-c0', 'r2-c1']);
      const [d] = await damagedOf(c);
      expect(d).toEqual({
        snapshotId: snap.snapshotId,
        files: [{ path: 'harness/metric.py', expected: snap.frozenSha256['harness/metric.py'], actual: damagedSha }],
        moreFiles: 0,
        detectedAt: 'fork',
        outcome: 'rebuilt',
        quarantinedAt: expect.stringContaining(path.join(tmp, 'home', 'snapshots', '.quarantine', `${snap.snapshotId}-`)),
        sourceSnapshotId: snap.snapshotId,
      });
      // the damaged copy is kept, read-only, for forensics; the published one is pristine and read-only
      expect(await hashFile(path.join(d.quarantinedAt!, 'harness/metric.py'))).toBe(damagedSha);
      expect(fs.statSync(path.join(d.quarantinedAt!, 'harness/metric.py')).mode & 0o222).toBe(0);
      expect(await hashFile(metric)).toBe(snap.frozenSha256['harness/metric.py']);
      expect(fs.statSync(metric).mode & 0o777).toBe(0o444);
      expect(fs.statSync(snap.snapshotPath).mode & 0o777).toBe(0o555);
      // new forks link the rebuilt inode; a sandbox forked before still links the damaged (now quarantined) one
      expect(ino(sb(c, 'r2-c0', 'harness/metric.py'))).toBe(ino(metric));
      expect(ino(sb(c, 'r1-c0', 'harness/metric.py'))).toBe(ino(path.join(d.quarantinedAt!, 'harness/metric.py')));
      expect(await wf.verify(c, 'r2-c0', 'before-evaluation')).toMatchObject({ valid: true, violations: [] });
      const old = await wf.verify(c, 'r1-c0', 'before-evaluation');
      expect(old).toMatchObject({ valid: false, violations: [{ path: 'harness/metric.py', kind: 'frozen-modified' }] });
      expect(old.violations[0].detail).toMatch(/hard link to the damaged snapshot copy quarantined at .*\.quarantine/);
      // intact now: later uses record nothing more
      await wf.forkRound(c, 2);
      expect(await damagedOf(c)).toHaveLength(1);
    });

    it('given a pinned file damaged together with its hash in the on-disk record, then the record is not believed: the event’s pins decide', async () => {
      const c = await newCampaign({}, ownSubstrate('dmg-record'));
      await append(roundStarted(c, 1, candidateIds(1, 1)));
      await wf.forkRound(c, 1);
      const snap = await snapshotOf(c);
      const metric = path.join(snap.snapshotPath, 'harness/metric.py');
      tamper(metric);
      const recordFile = path.join(tmp, 'home', 'snapshots', `${snap.snapshotId}.json`);
      const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { entries: Array<{ path: string; sha256: string }> };
      record.entries.find((e) => e.path === 'harness/metric.py')!.sha256 = await hashFile(metric);
      fs.chmodSync(recordFile, 0o644);
      fs.writeFileSync(recordFile, JSON.stringify(record));

      const v = await wf.verify(c, 'r1-c0', 'before-evaluation');
      expect(v).toMatchObject({ valid: false, violations: [{ path: 'harness/metric.py', kind: 'frozen-modified' }] });
      const [d] = await damagedOf(c);
      expect(d).toMatchObject({ detectedAt: 'verify', outcome: 'rebuilt' });
      expect(d.files.map((f) => f.path)).toEqual([`../${snap.snapshotId}.json`, 'harness/metric.py']);
      expect(await hashFile(metric)).toBe(snap.frozenSha256['harness/metric.py']);
    });

    it('given damage and a source that changed since, then SnapshotDamaged unrecoverable names the file, and nothing is forked or verified from it any more', async () => {
      const name = ownSubstrate('dmg-lost');
      const c = await newCampaign({}, name);
      await append(roundStarted(c, 1, candidateIds(1, 1)));
      await wf.forkRound(c, 1);
      const snap = await snapshotOf(c);
      tamper(path.join(snap.snapshotPath, 'harness/metric.py'));
      fs.appendFileSync(path.join(tmp, name, 'harness/metric.py'), '# v2\n');

      await append(roundStarted(c, 2, candidateIds(2, 1)));
      expect(await wf.forkRound(c, 2)).toEqual([]);
      const [d] = await damagedOf(c);
      expect(d).toMatchObject({ snapshotId: snap.snapshotId, outcome: 'unrecoverable', detectedAt: 'fork', files: [{ path: 'harness/metric.py' }] });
      expect(d.sourceSnapshotId).toMatch(/^[0-9a-f]{64}$/);
      expect(d.sourceSnapshotId).not.toBe(snap.snapshotId);
      expect(snapshotDamageReason(d as never)).toMatch(/harness\/metric\.py \(expected .*, found .*\).*cannot be rebuilt/);
      expect(fs.existsSync(snap.snapshotPath)).toBe(false); // quarantined, not rebuilt
      expect(await ours(c, 'CandidateForked')).toHaveLength(1);

      await expect(wf.verify(c, 'r1-c0', 'before-evaluation')).rejects.toMatchObject({ code: 'SNAPSHOT_DAMAGED', message: expect.stringMatching(/harness\/metric\.py/) });
      await append(manifestSubmitted(c, 1, 'r1-c0'));
      expect(await wf.verifyAtRoundClose(c, 'r1-c0')).toBeNull();
      expect(await wf.forkRound(c, 2)).toEqual([]);
      expect(await wf.ensureSnapshot(c)).toBeNull();
      expect(await damagedOf(c)).toHaveLength(1);
    });

    it('given a damaged snapshot no campaign has touched since, when a later campaign takes the same substrate, then it gets a pristine copy and its log says why', async () => {
      const name = ownSubstrate('dmg-later');
      const first = await newCampaign({}, name);
      await append(roundStarted(first, 1, candidateIds(1, 1)));
      await wf.forkRound(first, 1);
      const snap = await snapshotOf(first);
      tamper(path.join(snap.snapshotPath, 'base/checkpoint.pt'), 'poison');

      const later = await newCampaign({}, name);
      const taken = await wf.ensureSnapshot(later);
      expect(taken?.snapshotId).toBe(snap.snapshotId);
      expect((await ours(later)).map((e) => e.type)).toEqual(['SubstrateSnapshotted', 'SnapshotDamaged']);
      expect((await damagedOf(later))[0]).toMatchObject({ detectedAt: 'snapshot', outcome: 'rebuilt', files: [{ path: 'base/checkpoint.pt' }] });
      await append(roundStarted(later, 1, candidateIds(1, 1)));
      await wf.forkRound(later, 1);
      expect(await hashFile(sb(later, 'r1-c0', 'base/checkpoint.pt'))).toBe(snap.frozenSha256['base/checkpoint.pt']);
      expect(await wf.verify(later, 'r1-c0', 'before-evaluation')).toMatchObject({ valid: true });
      // the first campaign's sandbox still holds the poisoned inode: that candidate is invalid, the campaign is not
      expect(await wf.verify(first, 'r1-c0', 'before-evaluation')).toMatchObject({ valid: false, violations: [{ path: 'base/checkpoint.pt', kind: 'frozen-modified' }] });
      expect(await damagedOf(first)).toEqual([]);
    });
  });

  it('reads its configuration from the environment and names a bad value', () => {
    expect(substrateConfigFromEnv({}, '/w')).toEqual({ home: '/w/.aevo', substrateRoot: '/w', gc: DEFAULT_GC_POLICY });
    expect(substrateConfigFromEnv({ AEVO_HOME: '/data/aevo', AEVO_GC_KEEP_ROUNDS: '5', AEVO_GC_KEEP_WINNERS: 'false' }, '/w')).toMatchObject({
      home: '/data/aevo',
      gc: { keepLastRounds: 5, keepWinners: false, keepInvalidated: true },
    });
    expect(() => substrateConfigFromEnv({ AEVO_GC_KEEP_ROUNDS: '0', AEVO_GC_KEEP_WINNERS: 'maybe' }, '/w')).toThrow(
      /AEVO_GC_KEEP_ROUNDS: expected an integer >= 1, got "0"; AEVO_GC_KEEP_WINNERS: expected true or false, got "maybe"/,
    );
  });
});
