import { forksToMake, sandboxPathFor, substrateDecider } from './substrate';
import { CandidateForked } from '@aevo/contracts';
import {
  SHA,
  campaignStarted,
  ev,
  fold,
  forked,
  plan,
  round1,
  roundStarted,
  snapshotted,
  spec,
} from '../../test/domain-events';

describe('snapshot', () => {
  it('records the first snapshot of a campaign once', () => {
    const data = snapshotted.data as never;
    spec
      .given([campaignStarted])
      .when({ kind: 'RecordSnapshot', snapshot: data })
      .then([{ type: 'SubstrateSnapshotted', data, campaignId: 'c1' }]);
    spec
      .given([campaignStarted, snapshotted])
      .when({ kind: 'RecordSnapshot', snapshot: { ...(data as object), snapshotId: SHA('f') } as never })
      .thenNothing();
  });

  it('records a rejected substrate once, and never after a snapshot', () => {
    const cmd = {
      kind: 'RejectSubstrate' as const,
      substratePath: 'substrate/x',
      issues: [{ path: 'entrypoints.train', message: 'missing required field' }],
    };
    spec
      .given([campaignStarted])
      .when(cmd)
      .then([
        { type: 'SubstrateRejected', data: { substratePath: 'substrate/x', issues: cmd.issues }, campaignId: 'c1' },
      ]);
    spec
      .given([campaignStarted, ev('SubstrateRejected', {})])
      .when(cmd)
      .thenNothing();
    spec.given([campaignStarted, snapshotted]).when(cmd).thenNothing();
  });
});

describe('snapshot damage', () => {
  const pinned = ev('SubstrateSnapshotted', {
    snapshotId: SHA('a'),
    name: 'fixture',
    version: '0.1.0',
    snapshotPath: '/h/snapshots/a',
    files: 2,
    bytes: 10,
    frozenSha256: { 'harness/metric.py': SHA('1'), 'base/checkpoint.pt': SHA('2') },
  });
  const damage = (outcome: 'rebuilt' | 'unrecoverable', sourceSnapshotId: string | null, snapshotId = SHA('a')) => ({
    snapshotId,
    files: [{ path: 'harness/metric.py', expected: SHA('1'), actual: SHA('9') }],
    moreFiles: 0,
    detectedAt: 'fork' as const,
    outcome,
    quarantinedAt: '/h/snapshots/.quarantine/a-1',
    sourceSnapshotId,
  });

  it(
    'folds the pins of SubstrateSnapshotted into the state (they, not a file ' +
      'on disk, are what a snapshot is checked against)',
    () => {
      expect(fold([campaignStarted, pinned]).snapshot?.frozenSha256).toEqual({
        'harness/metric.py': SHA('1'),
        'base/checkpoint.pt': SHA('2'),
      });
    },
  );

  it('given a snapshot, when damage is rebuilt from the source, then SnapshotDamaged rebuilt and forks go on', () => {
    const d = damage('rebuilt', SHA('a'));
    const events = spec
      .given([campaignStarted, pinned])
      .when({ kind: 'RecordSnapshotDamage', damage: d })
      .then([{ type: 'SnapshotDamaged', data: d, campaignId: 'c1' }]);
    const after = fold([campaignStarted, pinned, ...events, roundStarted(1, ['r1-c0'])]);
    expect(after.snapshotLost).toBeNull();
    expect(after.damage).toEqual([
      { outcome: 'rebuilt', paths: ['harness/metric.py'], quarantinedAt: '/h/snapshots/.quarantine/a-1' },
    ]);
    spec
      .given([campaignStarted, pinned, ...events, roundStarted(1, ['r1-c0'])])
      .when({
        kind: 'RecordFork',
        candidateId: 'r1-c0',
        sandboxPath: '/h/sandboxes/c1/r1-c0',
        snapshotId: SHA('a'),
        recipeSha256: SHA('c'),
      })
      .then((out) => expect(out.map((e) => e.type)).toEqual(['CandidateForked']));
  });

  it(
    'given damage the source cannot repair, when recorded, then the ' +
      'snapshot is lost: no fork, and no second report',
    () => {
      const d = damage('unrecoverable', SHA('d'));
      const events = spec
        .given([campaignStarted, pinned])
        .when({ kind: 'RecordSnapshotDamage', damage: d })
        .then([{ type: 'SnapshotDamaged', data: d, campaignId: 'c1' }]);
      const lost = [campaignStarted, pinned, ...events, roundStarted(1, ['r1-c0'])];
      expect(fold(lost).snapshotLost).toMatch(
        new RegExp(
          'harness\\/metric\\.py \\(expected 111111111111…, found 999999999999…\\); ' +
            'the source now snapshots as dddddddddddd…',
        ),
      );
      spec
        .given(lost)
        .when({
          kind: 'RecordFork',
          candidateId: 'r1-c0',
          sandboxPath: '/h/sandboxes/c1/r1-c0',
          snapshotId: SHA('a'),
          recipeSha256: SHA('c'),
        })
        .thenThrows(/damaged snapshot/);
      spec
        .given(lost)
        .when({ kind: 'RecordSnapshotDamage', damage: damage('unrecoverable', null) })
        .thenNothing();
    },
  );

  it(
    'refuses damage reports that do not fit the log: before any snapshot, ' +
      'of another snapshot, or "rebuilt" as another id',
    () => {
      spec
        .given([campaignStarted])
        .when({ kind: 'RecordSnapshotDamage', damage: damage('rebuilt', SHA('a')) })
        .thenThrows(/before the substrate is snapshotted/);
      spec
        .given([campaignStarted, pinned])
        .when({ kind: 'RecordSnapshotDamage', damage: damage('rebuilt', SHA('e'), SHA('e')) })
        .thenThrows(/campaign uses a{64}/);
      spec
        .given([campaignStarted, pinned])
        .when({ kind: 'RecordSnapshotDamage', damage: damage('rebuilt', SHA('d')) })
        .thenThrows(/rebuilt as d{64} is not a{64}/);
    },
  );
});

describe('fork', () => {
  it('plans one fork per candidate with the standing recipe of the round’s policy revision', () => {
    expect(forksToMake(fold(round1), 1)).toEqual([
      { candidateId: 'r1-c0', round: 1, policyRevision: 0, standingRecipe: { lr: 0.001 } },
      { candidateId: 'r1-c1', round: 1, policyRevision: 0, standingRecipe: { lr: 0.001 } },
      { candidateId: 'r1-c2', round: 1, policyRevision: 0, standingRecipe: { lr: 0.001 } },
    ]);
    const later = [
      ...round1,
      ev('PolicyRevised', { round: 1, policy: { revision: 1, standingRecipe: { lr: 0.002 } } }),
      roundStarted(2, ['r2-c0'], 1),
    ];
    expect(forksToMake(fold(later), 2)).toEqual([
      { candidateId: 'r2-c0', round: 2, policyRevision: 1, standingRecipe: { lr: 0.002 } },
    ]);
  });

  it('does not plan a candidate that is already forked (redelivered RoundStarted)', () => {
    const state = fold([...round1, forked('r1-c1'), roundStarted(1, ['r1-c0', 'r1-c1', 'r1-c2'])]);
    expect(forksToMake(state, 1).map((f) => f.candidateId)).toEqual(['r1-c0', 'r1-c2']);
  });

  it('refuses to plan a round whose policy revision is not in the log', () => {
    expect(() => forksToMake(fold([campaignStarted, snapshotted, roundStarted(2, ['x'], 4)]), 2)).toThrow(
      /policy revision 4/,
    );
  });

  it('records a fork with the planned candidate’s fields, once', () => {
    const cmd = {
      kind: 'RecordFork' as const,
      candidateId: 'r1-c1',
      sandboxPath: '/h/sandboxes/c1/r1-c1',
      snapshotId: SHA('a'),
      recipeSha256: SHA('c'),
    };
    spec
      .given(round1)
      .when(cmd)
      .then([
        {
          type: 'CandidateForked',
          campaignId: 'c1',
          data: {
            round: 1,
            candidateId: 'r1-c1',
            index: 1,
            axis: 'learning-rate',
            isAnchor: false,
            seeds: [7],
            snapshotId: SHA('a'),
            sandboxPath: '/h/sandboxes/c1/r1-c1',
            policyRevision: 0,
            recipeSha256: SHA('c'),
          },
        },
      ]);
    spec
      .given([...round1, forked('r1-c1')])
      .when(cmd)
      .thenNothing();
    spec
      .given(round1)
      .when({ ...cmd, candidateId: 'nobody' })
      .thenThrows(/no candidate nobody/);
    spec
      .given(round1)
      .when({ ...cmd, snapshotId: SHA('e') })
      .thenThrows(/campaign uses a{64}/);
    spec
      .given([campaignStarted, roundStarted(1, ['r1-c1'])])
      .when(cmd)
      .thenThrows(/before the substrate is snapshotted/);
  });

  it(
    'given a planned confirmation run, when it is forked, then ' +
      'CandidateForked carries its prescribed change exactly',
    () => {
      const prescribed = {
        kind: 'confirmation' as const,
        of: 'r1-c1',
        changes: [{ path: 'lr', from: 0.001, to: 0.002 }],
        hypothesis: 'confirm the lr gain of r1-c1 on another training seed',
      };
      const planned = ev('RoundStarted', {
        round: 2,
        policyRevision: 0,
        policySha256: SHA('b'),
        candidates: [plan('r2-c0', 0), { ...plan('r2-c1', 1), seeds: [8], prescribed }],
        seed: 1,
      });
      const cmd = {
        kind: 'RecordFork' as const,
        candidateId: 'r2-c1',
        sandboxPath: '/h/sandboxes/c1/r2-c1',
        snapshotId: SHA('a'),
        recipeSha256: SHA('c'),
      };
      spec
        .given([campaignStarted, snapshotted, planned])
        .when(cmd)
        .then([
          {
            type: 'CandidateForked',
            campaignId: 'c1',
            data: {
              round: 2,
              candidateId: 'r2-c1',
              index: 1,
              axis: 'learning-rate',
              isAnchor: false,
              seeds: [8],
              snapshotId: SHA('a'),
              sandboxPath: '/h/sandboxes/c1/r2-c1',
              policyRevision: 0,
              recipeSha256: SHA('c'),
              prescribed,
            },
          },
        ]);
      // …and a candidate planned without one is forked without the field.
      const [anchorFork] = substrateDecider.decide(
        { ...cmd, candidateId: 'r2-c0', sandboxPath: '/h/sandboxes/c1/r2-c0' },
        fold([campaignStarted, snapshotted, planned]),
      );
      expect(anchorFork.data).not.toHaveProperty('prescribed');
      const [confirmationFork] = substrateDecider.decide(cmd, fold([campaignStarted, snapshotted, planned]));
      expect(CandidateForked.data.safeParse(confirmationFork.data).success).toBe(true);
    },
  );

  it('puts sandboxes at a deterministic path', () => {
    expect(sandboxPathFor('/h/sandboxes', 'c1', 'r1-c1')).toBe('/h/sandboxes/c1/r1-c1');
  });
});
