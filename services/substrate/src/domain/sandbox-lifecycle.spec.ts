import { DEFAULT_GC_POLICY, collectable } from './substrate';
import {
  campaignStarted,
  ev,
  fold,
  forked,
  jobEnded,
  jobRequested,
  round1,
  roundStarted,
  snapshotted,
  spec,
} from '../../test/domain-events';

describe('frozen-path verification', () => {
  const forkedRound = [...round1, forked('r1-c0'), forked('r1-c1'), forked('r1-c2')];
  const violation = { path: 'harness/metric.py', kind: 'frozen-modified' as const, detail: 'content changed' };

  it('invalidates only the offending candidate', () => {
    const events = spec
      .given(forkedRound)
      .when({
        kind: 'RecordVerification',
        candidateId: 'r1-c1',
        checkedAt: 'before-evaluation',
        violations: [violation],
      })
      .then([
        {
          type: 'FrozenPathViolated',
          campaignId: 'c1',
          data: { round: 1, candidateId: 'r1-c1', ...violation, checkedAt: 'before-evaluation' },
        },
      ]);
    const after = fold([...forkedRound, ...events]);
    expect(after.candidates['r1-c1'].status).toBe('invalidated');
    expect(after.candidates['r1-c0'].status).toBe('forked');
    expect(after.candidates['r1-c2'].status).toBe('forked');
  });

  it('records a violation once however often it is seen, and new ones still', () => {
    const seen = ev('FrozenPathViolated', {
      round: 1,
      candidateId: 'r1-c1',
      ...violation,
      checkedAt: 'before-evaluation',
    });
    const symlink = { path: 'pipeline/p', kind: 'symlink-escape' as const, detail: '-> /etc/passwd' };
    spec
      .given([...forkedRound, seen])
      .when({
        kind: 'RecordVerification',
        candidateId: 'r1-c1',
        checkedAt: 'round-close',
        violations: [violation, symlink, symlink],
      })
      .then([
        {
          type: 'FrozenPathViolated',
          campaignId: 'c1',
          data: { round: 1, candidateId: 'r1-c1', ...symlink, checkedAt: 'round-close' },
        },
      ]);
    spec
      .given(forkedRound)
      .when({ kind: 'RecordVerification', candidateId: 'r1-c0', checkedAt: 'on-demand', violations: [] })
      .thenNothing();
  });

  it('refuses to verify a sandbox that does not exist (yet or any more)', () => {
    spec
      .given(round1)
      .when({ kind: 'RecordVerification', candidateId: 'r1-c0', checkedAt: 'on-demand', violations: [] })
      .thenThrows(/no sandbox yet/);
    const collected = ev('SandboxCollected', { candidateId: 'r1-c0', sandboxPath: '/x', bytesFreed: 1 });
    spec
      .given([...forkedRound, collected])
      .when({ kind: 'RecordVerification', candidateId: 'r1-c0', checkedAt: 'on-demand', violations: [] })
      .thenThrows(/garbage-collected/);
  });
});

describe('garbage collection', () => {
  const three = [
    campaignStarted,
    snapshotted,
    roundStarted(1, ['r1-c0', 'r1-c1', 'r1-c2', 'r1-c3']),
    ...['r1-c0', 'r1-c1', 'r1-c2', 'r1-c3'].map((id) => forked(id, 1)),
    ev('SubmissionRequested', {
      round: 1,
      submissionId: 's1',
      candidateId: 'r1-c1',
      checkpoint: 'x',
      sandboxPath: '/x',
      reason: 'best',
    }),
    ev('FrozenPathViolated', {
      round: 1,
      candidateId: 'r1-c2',
      path: 'harness/m.py',
      kind: 'frozen-modified',
      detail: 'x',
      checkedAt: 'round-close',
    }),
    jobRequested('j1', 'r1-c3'),
    ev('RoundClosed', { round: 1, policyRevision: 0, bestPublicLb: null }),
    roundStarted(2, ['r2-c0']),
    forked('r2-c0', 2),
    ev('RoundClosed', { round: 2, policyRevision: 0, bestPublicLb: null }),
    roundStarted(3, ['r3-c0']),
    forked('r3-c0', 3),
  ];

  it('keeps the last K rounds, winners, invalidated sandboxes, and sandboxes a job uses', () => {
    expect(collectable(fold(three), DEFAULT_GC_POLICY)).toEqual({ collect: ['r1-c0'], inUse: ['r1-c3'] });
    expect(collectable(fold(three), { keepLastRounds: 1, keepWinners: false, keepInvalidated: false })).toEqual({
      collect: ['r1-c0', 'r1-c1', 'r1-c2', 'r2-c0'],
      inUse: ['r1-c3'],
    });
  });

  it('releases a sandbox when its job ends (requested, started and terminal events)', () => {
    for (const terminal of ['JobSucceeded', 'JobFailed', 'JobCancelled']) {
      const events = [
        ...three,
        ev('JobStarted', { jobId: 'j1', candidateId: 'r1-c3' }),
        jobEnded(terminal, 'j1', 'r1-c3'),
      ];
      expect(collectable(fold(events), DEFAULT_GC_POLICY)).toEqual({ collect: ['r1-c0', 'r1-c3'], inUse: [] });
    }
    // a JobStarted whose JobRequested is not in view still pins the sandbox
    expect(
      collectable(
        fold([...three.slice(0, 7), ev('JobStarted', { jobId: 'j2', candidateId: 'r1-c0' }), ...three.slice(7)]),
        DEFAULT_GC_POLICY,
      ).inUse,
    ).toContain('r1-c0');
  });

  it('never collects an open round, and refuses to collect a sandbox in use', () => {
    const open = [
      campaignStarted,
      snapshotted,
      roundStarted(1, ['a']),
      forked('a'),
      roundStarted(2, ['b']),
      roundStarted(3, ['c']),
    ];
    expect(collectable(fold(open), DEFAULT_GC_POLICY).collect).toEqual([]);
    expect(collectable(fold([...open, ev('CampaignCompleted', {})]), DEFAULT_GC_POLICY).collect).toEqual(['a']);
    spec
      .given(three)
      .when({ kind: 'CollectSandbox', candidateId: 'r1-c3', bytesFreed: 10 })
      .thenThrows(/used by j1/);
  });

  it('records a collection once', () => {
    spec
      .given(three)
      .when({ kind: 'CollectSandbox', candidateId: 'r1-c0', bytesFreed: 4096 })
      .then([
        {
          type: 'SandboxCollected',
          campaignId: 'c1',
          data: { candidateId: 'r1-c0', sandboxPath: '/h/sandboxes/c1/r1-c0', bytesFreed: 4096 },
        },
      ]);
    spec
      .given([...three, ev('SandboxCollected', { candidateId: 'r1-c0' })])
      .when({ kind: 'CollectSandbox', candidateId: 'r1-c0', bytesFreed: 1 })
      .thenNothing();
  });
});
