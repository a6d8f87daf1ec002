import { Axis, canonicalJson, type RollingPolicy } from '@aevo/contracts';
import { policy, RECIPE } from '../test/fixtures';
import { explorerSlot, proposeMutation } from './mutation';

const DOMAINS = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];
const EXPLORING = Axis.options.filter((a) => a !== 'baseline');
const moveOf = (p: ReturnType<typeof proposeMutation>) => canonicalJson({ s: p.settings, c: p.criterion ?? null });
const stepsLead = (stepScale: number) => ({
  maxKnobsPerMove: 1,
  directions: [{ path: 'steps', direction: 'increase' as const, paidRounds: [], stepScale }],
});

describe('explorers of one axis in one round make distinct moves (their slot among the round’s explorers)', () => {
  it(
    'given two explorers of one axis with consecutive occurrences and one shared seed, when they propose, then ' +
      'their moves differ on every axis (over shared seeds and occurrences)',
    () => {
      for (const axis of EXPLORING)
        for (let shared = 0; shared < 30; shared++)
          for (let occurrence = 0; occurrence < 4; occurrence++) {
            const a = proposeMutation(axis, RECIPE, policy(), 11, DOMAINS, { occurrence, sharedSeed: shared });
            const b = proposeMutation(axis, RECIPE, policy(), 12, DOMAINS, {
              occurrence: occurrence + 1,
              sharedSeed: shared,
            });
            expect(moveOf(b)).not.toEqual(moveOf(a));
          }
    },
  );

  it(
    'given no hint, when the second explorer of the steps axis proposes, then it takes one of the first ' +
      'explorer’s moves one step further, or another move',
    () => {
      const seen = new Set<string>();
      for (let shared = 0; shared < 40; shared++)
        for (const occurrence of [0, 1, 2, 3])
          seen.add(
            JSON.stringify(
              proposeMutation('steps', RECIPE, policy(), 5, DOMAINS, { occurrence, sharedSeed: shared }).settings,
            ),
          );
      // ×1.5 and ×1.5², ×0.75 and ×0.75² of 200 steps.
      expect([...seen].map((s) => JSON.parse(s)[0].value).sort((x: number, y: number) => x - y)).toEqual([
        113, 150, 300, 450,
      ]);
    },
  );

  it(
    'given a lead on steps at step scale 2, when the round’s two explorers of the steps axis propose, then one ' +
      'steps at the policy’s scale (×1.5²) and the other one step further (×1.5³)',
    () => {
      const p = policy({ searchHints: stepsLead(2) });
      const values = [0, 1].map(
        (occurrence) =>
          proposeMutation('steps', RECIPE, p, 99, DOMAINS, { occurrence, sharedSeed: 4 }).settings[0].value,
      );
      expect([...values].sort()).toEqual([450, 675]);
      const further = proposeMutation('steps', RECIPE, p, 99, DOMAINS, {
        occurrence: values[0] === 675 ? 0 : 1,
        sharedSeed: 4,
      });
      expect(further.hypothesis).toMatch(/holds at the policy's step scale 2; a further explorer of axis steps/);
    },
  );

  it(
    'given a lead on a weight of 1 at step scale 2 (×1.5² and ×1.5³ both round to 3), when the round’s two ' +
      'explorers of the data-mix axis propose, then the second takes another move of the axis',
    () => {
      const p = policy({
        searchHints: {
          maxKnobsPerMove: 1,
          directions: [{ path: 'mix.cipher', direction: 'increase', paidRounds: [], stepScale: 2 }],
        },
      });
      for (let shared = 0; shared < 10; shared++) {
        const [a, b] = [0, 1].map((occurrence) =>
          proposeMutation('data-mix', RECIPE, p, 1, DOMAINS, { occurrence, sharedSeed: shared }),
        );
        expect(moveOf(b)).not.toEqual(moveOf(a));
        expect([a, b].some((x) => x.settings[0].path === 'mix.cipher' && x.settings[0].value === 3)).toBe(true);
      }
    },
  );

  it(
    'given a pending confirmation of steps 200 → 450, when explorers of the steps axis propose along the lead, ' +
      'then none repeats the confirmation run’s move',
    () => {
      const p: RollingPolicy = policy({
        searchHints: stepsLead(2),
        pendingConfirmations: [
          {
            candidateId: 'c-r1-3',
            round: 1,
            axis: 'steps',
            changes: [{ path: 'steps', from: 200, to: 450 }],
            lbGain: 0.02,
            devGain: 0.01,
          },
        ],
      });
      const values = [0, 1, 2, 3].map(
        (occurrence) =>
          proposeMutation('steps', RECIPE, p, 3, DOMAINS, { occurrence, sharedSeed: 8 }).settings[0].value,
      );
      // The lead's next step, then the axis's other moves (×0.75, ×0.75²), never the confirmation's 450.
      expect([...values].sort()).toEqual([113, 150, 675, 675]);
    },
  );
});

describe('explorerSlot', () => {
  const active = { activeAxes: ['steps', 'warmup', 'learning-rate'] as Axis[] };
  const fork = (index: number, axis: Axis = 'steps') => ({ round: 2, index, axis, isAnchor: false, seeds: [77] });

  it(
    'given the plan’s round-robin over 3 active axes, when two explorers of one axis stand 3 indices apart, then ' +
      'their occurrences are consecutive, whatever number of prescribed runs came first, and they share a seed',
    () => {
      for (let first = 1; first < 8; first++) {
        const a = explorerSlot(fork(first), active)!;
        const b = explorerSlot(fork(first + 3), active)!;
        expect(b.occurrence).toBe(a.occurrence + 1);
        expect(b.sharedSeed).toBe(a.sharedSeed);
      }
    },
  );

  it('given the anchor, then no slot; given an axis outside the active ones, then occurrence 0', () => {
    expect(explorerSlot({ ...fork(0, 'baseline'), isAnchor: true }, active)).toBeUndefined();
    expect(explorerSlot(fork(7, 'augmentation'), active)?.occurrence).toBe(0);
  });

  it('given another axis or another round, then another shared seed', () => {
    const s = explorerSlot(fork(1), active)!.sharedSeed;
    expect(explorerSlot(fork(1, 'warmup'), active)!.sharedSeed).not.toBe(s);
    expect(explorerSlot({ ...fork(1), round: 3 }, active)!.sharedSeed).not.toBe(s);
  });
});
