import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { SubstrateWorkflow } from '../src/app/substrate-workflow';
import { DEFAULT_GC_POLICY } from '../src/domain/substrate';
import {
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
import { workflowOnPostgres } from './workflow-on-postgres';

jest.setTimeout(120_000);

describe('SubstrateWorkflow on PostgreSQL', () => {
  const { ctx, append, ours, newCampaign } = workflowOnPostgres();

  it('takes one snapshot when CampaignStarted and RoundStarted are handled at the same time', async () => {
    const c = await newCampaign();
    await append(roundStarted(c, 1, candidateIds(1, 2)));
    const taken: string[] = [];
    const concurrent = new SubstrateWorkflow(
      ctx.store,
      { home: path.join(ctx.tmp, 'home'), substrateRoot: ctx.tmp, gc: DEFAULT_GC_POLICY },
      {
        log: (m) => (m.includes('snapshotted') ? taken.push(m) : undefined),
        warn: () => undefined,
      },
    );
    const [snap, forked] = await Promise.all([concurrent.ensureSnapshot(c), concurrent.forkRound(c, 1)]);
    expect(forked).toEqual(['r1-c0', 'r1-c1']);
    expect(taken).toHaveLength(1);
    expect(await ours(c, 'SubstrateSnapshotted')).toHaveLength(1);
    expect(
      (await ours(c, 'CandidateForked')).every(
        (e) => (e.data as { snapshotId: string }).snapshotId === snap!.snapshotId,
      ),
    ).toBe(true);
  });

  it(
    'snapshots once per campaign and forks every candidate of a round ' + 'once, even when RoundStarted is redelivered',
    async () => {
      const c = await newCampaign({ lr: 0.01 });
      const snap = await ctx.wf.ensureSnapshot(c);
      expect(snap).not.toBeNull();
      await append(roundStarted(c, 1, candidateIds(1, 3)));
      expect(await ctx.wf.forkRound(c, 1)).toEqual(['r1-c0', 'r1-c1', 'r1-c2']);
      expect(await ctx.wf.forkRound(c, 1)).toEqual([]); // redelivery
      expect(await ctx.wf.ensureSnapshot(c)).toEqual(snap);

      const snapshotted = await ours(c, 'SubstrateSnapshotted');
      expect(snapshotted).toHaveLength(1);
      expect(snapshotted[0].data).toMatchObject({
        snapshotId: snap!.snapshotId,
        name: 'fixture',
        frozenSha256: expect.objectContaining({ 'harness/metric.py': expect.stringMatching(/^[0-9a-f]{64}$/) }),
      });
      const forked = await ours(c, 'CandidateForked');
      expect(forked.map((e) => (e.data as { candidateId: string }).candidateId)).toEqual(['r1-c0', 'r1-c1', 'r1-c2']);
      const first = forked[0].data as {
        sandboxPath: string;
        snapshotId: string;
        isAnchor: boolean;
        policyRevision: number;
      };
      expect(first).toMatchObject({
        snapshotId: snap!.snapshotId,
        isAnchor: true,
        policyRevision: 0,
        sandboxPath: path.join(ctx.tmp, 'home', 'sandboxes', c, 'r1-c0'),
      });
      expect(parse(fs.readFileSync(path.join(first.sandboxPath, 'recipe.yaml'), 'utf8')).lr).toBe(0.01);
    },
  );

  it('forks later rounds with the standing recipe of the revised policy; the snapshot never changes', async () => {
    const c = await newCampaign({ lr: 0.01 });
    await append(roundStarted(c, 1, candidateIds(1, 1)));
    await ctx.wf.forkRound(c, 1);
    await append(policyRevised(c, 1, 1, { lr: 0.02, mix: { equation: 3 } }), roundStarted(c, 2, candidateIds(2, 2), 1));
    await ctx.wf.forkRound(c, 2);
    const r2 = parse(fs.readFileSync(path.join(ctx.tmp, 'home', 'sandboxes', c, 'r2-c1', 'recipe.yaml'), 'utf8'));
    expect(r2).toEqual({ lr: 0.02, steps: 100, mix: { gravity: 1, cipher: 1, equation: 3 } });
    const snap = (await ours(c, 'SubstrateSnapshotted'))[0].data as { snapshotPath: string };
    expect(parse(fs.readFileSync(path.join(snap.snapshotPath, 'recipe.yaml'), 'utf8')).lr).toBe(0.001);
  });

  it('a round whose policy revision is not in the log is refused (retried later), nothing forked', async () => {
    const c = await newCampaign();
    await append(roundStarted(c, 1, candidateIds(1, 1), 5));
    await expect(ctx.wf.forkRound(c, 1)).rejects.toThrow(/policy revision 5/);
    expect(await ours(c, 'CandidateForked')).toEqual([]);
  });

  it('records a rejected substrate once and forks nothing from it', async () => {
    const bad = writeSubstrateFixture(path.join(ctx.tmp, 'bad'), {
      manifest: { editable: ['recipe.yaml', 'pipeline/**', 'harness/**'] },
    });
    const c = await newCampaign({}, path.relative(ctx.tmp, bad));
    await append(roundStarted(c, 1, candidateIds(1, 2)));
    expect(await ctx.wf.forkRound(c, 1)).toEqual([]);
    expect(await ctx.wf.ensureSnapshot(c)).toBeNull();
    const rejected = await ours(c, 'SubstrateRejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0].data as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual(['frozen.0']);
  });

  it('refuses and records each escape attempt; the other candidates of the round stay valid and finish', async () => {
    const c = await newCampaign();
    await append(roundStarted(c, 1, candidateIds(1, 5)));
    await ctx.wf.forkRound(c, 1);
    const sb = (id: string) => path.join(ctx.tmp, 'home', 'sandboxes', c, id);
    fs.appendFileSync(path.join(sb('r1-c1'), 'recipe.yaml'), 'extra: 1\n'); // allowed
    // c1: frozen file modified (replaced), c2: symlink to /etc/passwd, c3: symlink into a frozen path,
    // c4: asked about a ../ path
    fs.unlinkSync(path.join(sb('r1-c1'), 'harness/metric.py'));
    fs.writeFileSync(path.join(sb('r1-c1'), 'harness/metric.py'), 'def score(a, b): return True\n');
    fs.symlinkSync('/etc/passwd', path.join(sb('r1-c2'), 'pipeline/passwd'));
    fs.symlinkSync('../harness/metric.py', path.join(sb('r1-c3'), 'pipeline/metric.py'));

    const results = await Promise.all([
      ctx.wf.verify(c, 'r1-c0', 'before-evaluation', ['runs/seed-1/step-000010']),
      ctx.wf.verify(c, 'r1-c1', 'before-evaluation'),
      ctx.wf.verify(c, 'r1-c2', 'before-evaluation'),
      ctx.wf.verify(c, 'r1-c3', 'before-evaluation'),
    ]);
    expect(results.map((r) => [r.candidateId, r.valid, r.violations.map((v) => v.kind)])).toEqual([
      ['r1-c0', true, []],
      ['r1-c1', false, ['frozen-modified']],
      ['r1-c2', false, ['symlink-escape']],
      ['r1-c3', false, ['symlink-into-frozen']],
    ]);
    // An escaping path is the asker's bad input, not the candidate's violation: refused, nothing recorded, c4 intact.
    for (const p of ['../r1-c0/recipe.yaml', '/etc/passwd'])
      await expect(ctx.wf.verify(c, 'r1-c4', 'before-evaluation', [p])).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        issues: [{ path: 'paths.0' }],
      });
    expect(await ctx.wf.verify(c, 'r1-c4', 'before-evaluation')).toMatchObject({ valid: true, recorded: 0 });
    const violated = await ours(c, 'FrozenPathViolated');
    expect(violated.map((e) => (e.data as { candidateId: string }).candidateId).sort()).toEqual([
      'r1-c1',
      'r1-c2',
      'r1-c3',
    ]);

    // checked again at round close: recorded violations are not repeated, the invalid stays invalid
    await append(manifestSubmitted(c, 1, 'r1-c2'), manifestSubmitted(c, 1, 'r1-c0'));
    expect(await ctx.wf.verifyAtRoundClose(c, 'r1-c2')).toMatchObject({ valid: false, recorded: 0 });
    expect(await ctx.wf.verifyAtRoundClose(c, 'r1-c0')).toMatchObject({ valid: true, recorded: 0 });
    expect(await ours(c, 'FrozenPathViolated')).toHaveLength(3);
    // a later check of an invalidated candidate whose sandbox looks clean still says invalid
    fs.unlinkSync(path.join(sb('r1-c3'), 'pipeline/metric.py'));
    expect(await ctx.wf.verify(c, 'r1-c3', 'on-demand')).toMatchObject({ valid: false, violations: [], recorded: 0 });
  });

  it('answers a retried verification command with the first answer', async () => {
    const c = await newCampaign();
    await append(roundStarted(c, 1, candidateIds(1, 1)));
    await ctx.wf.forkRound(c, 1);
    const first = await ctx.wf.verify(c, 'r1-c0', 'before-evaluation', [], {
      commandId: `substrate:VerifySandbox:cmd-${c}`,
    });
    fs.symlinkSync('/etc', path.join(ctx.tmp, 'home', 'sandboxes', c, 'r1-c0', 'pipeline/etc'));
    expect(
      await ctx.wf.verify(c, 'r1-c0', 'before-evaluation', [], { commandId: `substrate:VerifySandbox:cmd-${c}` }),
    ).toEqual(first);
    expect((await ctx.wf.verify(c, 'r1-c0', 'before-evaluation')).valid).toBe(false);
  });

  it('refuses to verify unknown or unforked candidates, naming the field', async () => {
    const c = await newCampaign();
    await expect(ctx.wf.verify(c, 'ghost', 'on-demand')).rejects.toMatchObject({
      code: 'CANDIDATE_NOT_FOUND',
      issues: [{ path: 'candidateId', message: expect.any(String) }],
    });
    await append(roundStarted(c, 1, candidateIds(1, 1)));
    await expect(ctx.wf.verify(c, 'r1-c0', 'on-demand')).rejects.toMatchObject({ code: 'NOT_FORKED' });
  });

  it('collects old sandboxes by policy, never one a job still uses, and retries it when the job ends', async () => {
    const c = await newCampaign();
    const sb = (id: string) => path.join(ctx.tmp, 'home', 'sandboxes', c, id);
    await append(roundStarted(c, 1, candidateIds(1, 3)));
    await ctx.wf.forkRound(c, 1);
    await append(
      jobRequested(c, `${c}-j1`, 'r1-c1', 1, sb('r1-c1')),
      jobStarted(c, `${c}-j1`, 'r1-c1'),
      submissionRequested(c, 1, 'r1-c2', sb('r1-c2')),
      roundClosed(c, 1),
      roundStarted(c, 2, candidateIds(2, 1)),
    );
    await ctx.wf.forkRound(c, 2);
    await append(roundClosed(c, 2), roundStarted(c, 3, candidateIds(3, 1)));
    await ctx.wf.forkRound(c, 3);

    expect(await ctx.wf.collectGarbage(c)).toEqual(['r1-c0']);
    expect(fs.existsSync(sb('r1-c0'))).toBe(false);
    expect(fs.existsSync(sb('r1-c1'))).toBe(true); // its job is running
    expect(fs.existsSync(sb('r1-c2'))).toBe(true); // a winner
    expect(await ctx.wf.collectGarbage(c)).toEqual([]);

    await append(jobSucceeded(c, `${c}-j1`, 'r1-c1', 1));
    expect(await ctx.wf.collectGarbage(c)).toEqual(['r1-c1']);
    expect(fs.existsSync(sb('r1-c1'))).toBe(false);
    const collected = await ours(c, 'SandboxCollected');
    expect(collected.map((e) => e.data)).toEqual([
      { candidateId: 'r1-c0', sandboxPath: sb('r1-c0'), bytesFreed: expect.any(Number) },
      { candidateId: 'r1-c1', sandboxPath: sb('r1-c1'), bytesFreed: expect.any(Number) },
    ]);
    await expect(ctx.wf.verify(c, 'r1-c0', 'on-demand')).rejects.toMatchObject({ code: 'SANDBOX_COLLECTED' });
  });
});
