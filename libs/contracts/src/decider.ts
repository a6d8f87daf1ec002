/**
 * The shape of every aggregate's pure core: decide(command, state) → events; evolve(state, event) → state.
 * No framework, NATS or SQL code may be imported by an implementation of this interface.
 */
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

export function foldEvents<E, S>(evolve: (s: S, e: E) => S, initial: S, events: readonly E[]): S {
  return events.reduce(evolve, initial);
}
