import * as fs from 'node:fs';
import * as path from 'node:path';
import { snapshotDamageReason } from '@aevo/contracts';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { hashFile } from '../src/fs/hash';
import { candidateIds, manifestSubmitted, roundStarted } from './events';
import { workflowOnPostgres } from './workflow-on-postgres';

jest.setTimeout(120_000);

describe('SubstrateWorkflow on PostgreSQL', () => {
  const { ctx, append, ours, newCampaign } = workflowOnPostgres();

  describe('a snapshot damaged on the host', () => {
    type Snapshotted = { snapshotId: string; snapshotPath: string; frozenSha256: Record<string, string> };
    type Damaged = {
      snapshotId: string;
      files: Array<{ path: string; expected: string; actual: string }>;
      outcome: string;
      detectedAt: string;
      quarantinedAt: string | null;
      sourceSnapshotId: string | null;
      moreFiles: number;
    };
    /** A substrate of its own per test (its own snapshot id), so that damaging it touches no other test's campaign. */
    const ownSubstrate = (name: string) => {
      writeSubstrateFixture(path.join(ctx.tmp, name), {
        files: { 'harness/tag.py': `TAG = ${JSON.stringify(name)}\n` },
      });
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
    const sb = (c: string, id: string, rel = '') => path.join(ctx.tmp, 'home', 'sandboxes', c, id, rel);
    const ino = (p: string) => fs.statSync(p).ino;

    it(
      'given a pinned file written in place, when the next round forks, then the snapshot is ' +
        'quarantined, rebuilt (same id), recorded, and new forks are pristine',
      async () => {
        const c = await newCampaign({}, ownSubstrate('dmg-rebuilt'));
        await append(roundStarted(c, 1, candidateIds(1, 2)));
        await ctx.wf.forkRound(c, 1);
        const snap = await snapshotOf(c);
        const metric = path.join(snap.snapshotPath, 'harness/metric.py');
        tamper(metric);
        const damagedSha = await hashFile(metric);

        await append(roundStarted(c, 2, candidateIds(2, 2)));
        expect(await ctx.wf.forkRound(c, 2)).toEqual(['r2-c0', 'r2-c1']);
        const [d] = await damagedOf(c);
        expect(d).toEqual({
          snapshotId: snap.snapshotId,
          files: [{ path: 'harness/metric.py', expected: snap.frozenSha256['harness/metric.py'], actual: damagedSha }],
          moreFiles: 0,
          detectedAt: 'fork',
          outcome: 'rebuilt',
          quarantinedAt: expect.stringContaining(
            path.join(ctx.tmp, 'home', 'snapshots', '.quarantine', `${snap.snapshotId}-`),
          ),
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
        expect(await ctx.wf.verify(c, 'r2-c0', 'before-evaluation')).toMatchObject({ valid: true, violations: [] });
        const old = await ctx.wf.verify(c, 'r1-c0', 'before-evaluation');
        expect(old).toMatchObject({
          valid: false,
          violations: [{ path: 'harness/metric.py', kind: 'frozen-modified' }],
        });
        expect(old.violations[0].detail).toMatch(
          /hard link to the damaged snapshot copy quarantined at .*\.quarantine/,
        );
        // intact now: later uses record nothing more
        await ctx.wf.forkRound(c, 2);
        expect(await damagedOf(c)).toHaveLength(1);
      },
    );

    it(
      'given a pinned file damaged together with its hash in the on-disk record, then ' +
        'the record is not believed: the event’s pins decide',
      async () => {
        const c = await newCampaign({}, ownSubstrate('dmg-record'));
        await append(roundStarted(c, 1, candidateIds(1, 1)));
        await ctx.wf.forkRound(c, 1);
        const snap = await snapshotOf(c);
        const metric = path.join(snap.snapshotPath, 'harness/metric.py');
        tamper(metric);
        const recordFile = path.join(ctx.tmp, 'home', 'snapshots', `${snap.snapshotId}.json`);
        const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as {
          entries: Array<{ path: string; sha256: string }>;
        };
        record.entries.find((e) => e.path === 'harness/metric.py')!.sha256 = await hashFile(metric);
        fs.chmodSync(recordFile, 0o644);
        fs.writeFileSync(recordFile, JSON.stringify(record));

        const v = await ctx.wf.verify(c, 'r1-c0', 'before-evaluation');
        expect(v).toMatchObject({ valid: false, violations: [{ path: 'harness/metric.py', kind: 'frozen-modified' }] });
        const [d] = await damagedOf(c);
        expect(d).toMatchObject({ detectedAt: 'verify', outcome: 'rebuilt' });
        expect(d.files.map((f) => f.path)).toEqual([`../${snap.snapshotId}.json`, 'harness/metric.py']);
        expect(await hashFile(metric)).toBe(snap.frozenSha256['harness/metric.py']);
      },
    );

    it(
      'given damage and a source that changed since, then SnapshotDamaged unrecoverable names ' +
        'the file, and nothing is forked or verified from it any more',
      async () => {
        const name = ownSubstrate('dmg-lost');
        const c = await newCampaign({}, name);
        await append(roundStarted(c, 1, candidateIds(1, 1)));
        await ctx.wf.forkRound(c, 1);
        const snap = await snapshotOf(c);
        tamper(path.join(snap.snapshotPath, 'harness/metric.py'));
        fs.appendFileSync(path.join(ctx.tmp, name, 'harness/metric.py'), '# v2\n');

        await append(roundStarted(c, 2, candidateIds(2, 1)));
        expect(await ctx.wf.forkRound(c, 2)).toEqual([]);
        const [d] = await damagedOf(c);
        expect(d).toMatchObject({
          snapshotId: snap.snapshotId,
          outcome: 'unrecoverable',
          detectedAt: 'fork',
          files: [{ path: 'harness/metric.py' }],
        });
        expect(d.sourceSnapshotId).toMatch(/^[0-9a-f]{64}$/);
        expect(d.sourceSnapshotId).not.toBe(snap.snapshotId);
        expect(snapshotDamageReason(d as never)).toMatch(
          /harness\/metric\.py \(expected .*, found .*\).*cannot be rebuilt/,
        );
        expect(fs.existsSync(snap.snapshotPath)).toBe(false); // quarantined, not rebuilt
        expect(await ours(c, 'CandidateForked')).toHaveLength(1);

        await expect(ctx.wf.verify(c, 'r1-c0', 'before-evaluation')).rejects.toMatchObject({
          code: 'SNAPSHOT_DAMAGED',
          message: expect.stringMatching(/harness\/metric\.py/),
        });
        await append(manifestSubmitted(c, 1, 'r1-c0'));
        expect(await ctx.wf.verifyAtRoundClose(c, 'r1-c0')).toBeNull();
        expect(await ctx.wf.forkRound(c, 2)).toEqual([]);
        expect(await ctx.wf.ensureSnapshot(c)).toBeNull();
        expect(await damagedOf(c)).toHaveLength(1);
      },
    );

    it(
      'given a damaged snapshot no campaign has touched since, when a later campaign takes the ' +
        'same substrate, then it gets a pristine copy and its log says why',
      async () => {
        const name = ownSubstrate('dmg-later');
        const first = await newCampaign({}, name);
        await append(roundStarted(first, 1, candidateIds(1, 1)));
        await ctx.wf.forkRound(first, 1);
        const snap = await snapshotOf(first);
        tamper(path.join(snap.snapshotPath, 'base/checkpoint.pt'), 'poison');

        const later = await newCampaign({}, name);
        const taken = await ctx.wf.ensureSnapshot(later);
        expect(taken?.snapshotId).toBe(snap.snapshotId);
        expect((await ours(later)).map((e) => e.type)).toEqual(['SubstrateSnapshotted', 'SnapshotDamaged']);
        expect((await damagedOf(later))[0]).toMatchObject({
          detectedAt: 'snapshot',
          outcome: 'rebuilt',
          files: [{ path: 'base/checkpoint.pt' }],
        });
        await append(roundStarted(later, 1, candidateIds(1, 1)));
        await ctx.wf.forkRound(later, 1);
        expect(await hashFile(sb(later, 'r1-c0', 'base/checkpoint.pt'))).toBe(snap.frozenSha256['base/checkpoint.pt']);
        expect(await ctx.wf.verify(later, 'r1-c0', 'before-evaluation')).toMatchObject({ valid: true });
        // the first campaign's sandbox still holds the poisoned inode: that candidate is invalid, the campaign is not
        expect(await ctx.wf.verify(first, 'r1-c0', 'before-evaluation')).toMatchObject({
          valid: false,
          violations: [{ path: 'base/checkpoint.pt', kind: 'frozen-modified' }],
        });
        expect(await damagedOf(first)).toEqual([]);
      },
    );
  });
});
