import type { Decider } from '@aevo/contracts';

/**
 * given/when/then for pure deciders:
 *   spec.given([events]).when(command).then([expected events])
 *   spec.given([events]).when(command).thenThrows(/message/ or predicate)
 * `then` compares with a normaliser so generated ids or times can be stripped.
 */
export function DeciderSpecification<C, E, S>(decider: Decider<C, E, S>, normalise: (e: E) => unknown = (e) => e) {
  return {
    given(events: E[]) {
      const state = events.reduce(decider.evolve, decider.initialState());
      return {
        when(command: C) {
          const run = () => decider.decide(command, state);
          return {
            then(expected: E[] | ((events: E[]) => void)) {
              const produced = run();
              if (typeof expected === 'function') expected(produced);
              else expect(produced.map(normalise)).toEqual(expected.map(normalise));
              return produced;
            },
            thenThrows(matcher: RegExp | string | ((err: unknown) => boolean)) {
              let thrown: unknown = undefined;
              try {
                run();
              } catch (err) {
                thrown = err;
              }
              expect(thrown).toBeDefined();
              if (typeof matcher === 'function') expect(matcher(thrown)).toBe(true);
              else expect(String((thrown as Error).message)).toMatch(matcher);
            },
            thenNothing() {
              expect(run()).toEqual([]);
            },
          };
        },
        state,
      };
    },
  };
}
