import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SandboxVerification, VerifySandbox } from '@aevo/contracts';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { eventually, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { SubstrateModule } from '../src/substrate.module';
import { SubstrateWorkflow, substrateStreamId } from '../src/app/substrate-workflow';
import { DEFAULT_GC_POLICY } from '../src/domain/substrate';
import { removeTree } from '../src/fs/snapshot-store';
import {
  campaignStarted,
  candidateIds,
  jobRequested,
  jobSucceeded,
  manifestSubmitted,
  roundClosed,
  roundStarted,
} from './events';

jest.setTimeout(180_000);

/** The Nest service on the real transport: events relayed from PostgreSQL to JetStream in, its events out. */
describe('substrate service on nats-server and PostgreSQL', () => {
  let h: ServiceHarness;
  let tmp: string;
  const c = 'camp-int';
  const sb = (id: string) => path.join(tmp, 'home', 'sandboxes', c, id);

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-int-'));
    writeSubstrateFixture(path.join(tmp, 'substrate'));
    h = await startServiceHarness(
      SubstrateModule.forRoot({ config: { home: path.join(tmp, 'home'), substrateRoot: tmp, gc: DEFAULT_GC_POLICY } }),
      { service: 'substrate', server: { nakDelayMs: 200, maxNakDelayMs: 2000 } },
    );
  });

  afterAll(async () => {
    await h?.close();
    if (tmp) removeTree(tmp);
  });

  const ours = async (type: string) => (await h.store.readStream(substrateStreamId(c))).filter((e) => e.type === type);
  const ofCandidate = (events: Array<{ data: unknown }>) =>
    events.map((e) => (e.data as { candidateId: string }).candidateId).sort();

  it('RoundStarted in → one CandidateForked per candidate out, from one snapshot', async () => {
    await h.append(campaignStarted(c, 'substrate', { lr: 0.005 }), roundStarted(c, 1, candidateIds(1, 3)));
    const forked = await eventually(async () => {
      const f = await ours('CandidateForked');
      return f.length === 3 ? f : null;
    }, 90_000);
    expect(ofCandidate(forked)).toEqual(['r1-c0', 'r1-c1', 'r1-c2']);
    const snapshotted = await ours('SubstrateSnapshotted');
    expect(snapshotted).toHaveLength(1);
    for (const f of forked) {
      expect(f.source).toBe('substrate');
      expect(f.data).toMatchObject({
        snapshotId: (snapshotted[0].data as { snapshotId: string }).snapshotId,
        round: 1,
      });
      expect(
        fs.readFileSync(path.join((f.data as { sandboxPath: string }).sandboxPath, 'recipe.yaml'), 'utf8'),
      ).toContain('lr: 0.005');
    }
    expect(forked[0].causationId).not.toBeNull();
  });

  it('answers VerifySandbox over NATS and invalidates only the offending candidate', async () => {
    fs.symlinkSync('/etc/passwd', path.join(sb('r1-c1'), 'pipeline/passwd'));
    const ok = await h.send(VerifySandbox, {
      campaignId: c,
      candidateId: 'r1-c0',
      paths: ['runs/seed-1/step-000010'],
    });
    expect(ok.ok).toBe(true);
    expect(SandboxVerification.parse(ok.ok ? ok.result : null)).toEqual({
      candidateId: 'r1-c0',
      sandboxPath: sb('r1-c0'),
      snapshotId: ((await ours('SubstrateSnapshotted'))[0].data as { snapshotId: string }).snapshotId,
      valid: true,
      violations: [],
      recorded: 0,
    });

    const bad = await h.send(VerifySandbox, { campaignId: c, candidateId: 'r1-c1' }, { commandId: 'cmd-verify-r1-c1' });
    expect(bad).toMatchObject({
      ok: true,
      duplicate: false,
      result: {
        valid: false,
        recorded: 1,
        violations: [
          {
            path: 'pipeline/passwd',
            kind: 'symlink-escape',
            detail: 'symlink points outside the sandbox (-> /etc/passwd)',
          },
        ],
      },
    });
    const again = await h.send(
      VerifySandbox,
      { campaignId: c, candidateId: 'r1-c1' },
      { commandId: 'cmd-verify-r1-c1' },
    );
    expect(again.ok && again.result).toEqual(bad.ok && bad.result);
    const violated = await ours('FrozenPathViolated');
    expect(violated.map((e) => e.data)).toEqual([
      {
        round: 1,
        candidateId: 'r1-c1',
        path: 'pipeline/passwd',
        kind: 'symlink-escape',
        detail: 'symlink points outside the sandbox (-> /etc/passwd)',
        checkedAt: 'before-evaluation',
      },
    ]);
  });

  it('refuses a bad VerifySandbox naming the field, and an unknown candidate', async () => {
    const bad = await h.send(VerifySandbox, {
      campaignId: c,
      candidateId: 'has.dots',
      checkedAt: 'whenever',
    } as never);
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe('INVALID_COMMAND');
      expect(bad.error.issues.map((i) => i.path).sort()).toEqual(['payload.candidateId', 'payload.checkedAt']);
    }
    const unknown = await h.send(VerifySandbox, { campaignId: c, candidateId: 'ghost' });
    expect(!unknown.ok && unknown.error).toMatchObject({
      code: 'CANDIDATE_NOT_FOUND',
      issues: [{ path: 'candidateId' }],
    });
  });

  it(
    'refuses escaping VerifySandbox paths as bad input, recording ' + 'nothing and leaving the intact candidate valid',
    async () => {
      const head = await h.store.headPosition();
      for (const paths of [['../r1-c1/pipeline/passwd'], ['/etc/passwd'], ['runs/ok', 'runs/../../../etc'], ['..']]) {
        const reply = await h.send(VerifySandbox, { campaignId: c, candidateId: 'r1-c0', paths });
        expect(reply).toMatchObject({
          ok: false,
          error: { code: 'INVALID_COMMAND', issues: [{ path: `payload.paths.${paths.length - 1}` }] },
        });
      }
      expect(await h.store.headPosition()).toBe(head);
      // Internal callers go through the same check.
      await expect(
        h.service.app.get(SubstrateWorkflow).verify(c, 'r1-c0', 'on-demand', ['../x']),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        issues: [{ path: 'paths.0' }],
      });
      const still = await h.send(VerifySandbox, {
        campaignId: c,
        candidateId: 'r1-c0',
        paths: ['runs/seed-1/step-000010'],
      });
      expect(still).toMatchObject({ ok: true, result: { valid: true, violations: [], recorded: 0 } });
      expect(
        (await ours('FrozenPathViolated')).filter((e) => (e.data as { candidateId: string }).candidateId === 'r1-c0'),
      ).toEqual([]);
    },
  );

  it(
    'binds a VerifySandbox command id to its body: another candidate or paths is ' +
      'IDEMPOTENCY_CONFLICT, the exact retry the first answer',
    async () => {
      const first = await h.send(
        VerifySandbox,
        { campaignId: c, candidateId: 'r1-c0', paths: ['runs/a'] },
        { commandId: 'cmd-verify-bound-01' },
      );
      expect(first.ok).toBe(true);
      const head = await h.store.headPosition();
      for (const payload of [
        { campaignId: c, candidateId: 'r1-c1', paths: ['runs/a'] },
        { campaignId: c, candidateId: 'r1-c0', paths: ['runs/b'] },
        { campaignId: c, candidateId: 'r1-c0', paths: ['runs/a'], checkedAt: 'on-demand' as const },
      ]) {
        expect(await h.send(VerifySandbox, payload, { commandId: 'cmd-verify-bound-01' })).toMatchObject({
          ok: false,
          error: { code: 'IDEMPOTENCY_CONFLICT', issues: [{ path: 'commandId' }] },
        });
      }
      expect(await h.store.headPosition()).toBe(head);
      expect(
        await h.send(
          VerifySandbox,
          { campaignId: c, candidateId: 'r1-c0', paths: ['runs/a'] },
          { commandId: 'cmd-verify-bound-01' },
        ),
      ).toEqual({ ...first, duplicate: true });
    },
  );

  it('checks a sandbox at round close when its manifest arrives', async () => {
    fs.unlinkSync(path.join(sb('r1-c2'), 'harness/evaluate.py'));
    await h.append(manifestSubmitted(c, 1, 'r1-c2'), manifestSubmitted(c, 1, 'r1-c0'));
    const v = await eventually(async () => {
      const all = await ours('FrozenPathViolated');
      return all.find((e) => (e.data as { candidateId: string }).candidateId === 'r1-c2');
    }, 90_000);
    expect(v.data).toMatchObject({ path: 'harness/evaluate.py', kind: 'frozen-deleted', checkedAt: 'round-close' });
  });

  it('collects old sandboxes after the round closes, waiting for a running job', async () => {
    await h.append(
      jobRequested(c, 'job-int-1', 'r1-c0', 1, sb('r1-c0')),
      roundClosed(c, 1),
      roundStarted(c, 2, candidateIds(2, 1)),
      roundClosed(c, 2),
      roundStarted(c, 3, candidateIds(3, 1)),
    );
    await eventually(async () => (await ours('CandidateForked')).length === 5, 90_000);
    // r1-c1 and r1-c2 are invalidated (kept as evidence); r1-c0 is used by a job: nothing may go yet
    await h.append(roundClosed(c, 3));
    const ended = jobSucceeded(c, 'job-int-1', 'r1-c0', 1);
    await h.append(ended);
    const collected = await eventually(async () => {
      const s = await ours('SandboxCollected');
      return s.length > 0 ? s : null;
    }, 90_000);
    expect(ofCandidate(collected)).toEqual(['r1-c0']);
    // it went only after its job's terminal event, never while the job could still use it
    const endedAt = (await h.store.readAll({ campaignId: c, types: ['JobSucceeded'] }))[0].position;
    expect(collected[0].position).toBeGreaterThan(endedAt);
    expect(fs.existsSync(sb('r1-c0'))).toBe(false);
    expect(fs.existsSync(sb('r1-c1'))).toBe(true); // invalidated: kept as evidence
    expect(fs.existsSync(sb('r2-c0'))).toBe(true); // within the last two rounds
  });
});
