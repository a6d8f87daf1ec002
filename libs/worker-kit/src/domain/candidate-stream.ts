import { createEvent, eventDefinition, type Decider, type EventContext, type EventEnvelope } from '@aevo/contracts';
import { evolveTrace, initialTrace, type CandidateEvent, type TraceState } from '../trace';
import { decideCandidate, type CandidateCommand } from './candidate';

/** Another replica appended to this candidate's stream: it owns the candidate now, this one must stop. */
export class LeaseLostError extends Error {
  constructor(candidateId: string) {
    super(`another worker replica is working on ${candidateId}`);
    this.name = 'LeaseLostError';
  }
}

/** The candidate stream as `handle()` folds it: the trace, and the version of the last event a worker wrote. */
export interface CandidateStreamState {
  trace: TraceState;
  lastWorkerVersion: number;
}

/**
 * Commands one replica staged, to be appended together. `decidedAt`: the stream version they were decided at by
 * this replica and the envelopes that made; when the stream is still there, those are the decision (so the events
 * recorded are the ones the agent was shown), and a worker event past it means another replica owns the candidate.
 */
export interface StagedCommands {
  commands: CandidateCommand[];
  decidedAt?: { version: number; events: EventEnvelope[] };
}

/**
 * The candidate decider over envelopes, for `handle()`: the commands are decided one after another on the trace
 * (each on the state the previous one left), their events enveloped with `ctx`.
 */
export function candidateStreamDecider(
  ctx: EventContext & { candidateId: string },
): Decider<StagedCommands, EventEnvelope, CandidateStreamState> {
  return {
    initialState: () => ({ trace: initialTrace(), lastWorkerVersion: 0 }),
    evolve: (s, e) => {
      const trace = evolveTrace(s.trace, e);
      return { trace, lastWorkerVersion: e.source === 'worker' ? trace.version : s.lastWorkerVersion };
    },
    decide: (cmd, s) => {
      const at = cmd.decidedAt;
      if (at && s.trace.version === at.version) return at.events;
      if (at && s.lastWorkerVersion > at.version) throw new LeaseLostError(ctx.candidateId);
      const out: EventEnvelope[] = [];
      let trace = s.trace;
      for (const c of cmd.commands)
        for (const e of decideCandidate(c, trace)) {
          const env = envelopeOf(e, ctx);
          out.push(env);
          trace = evolveTrace(trace, env);
        }
      return out;
    },
  };
}

/** A decided candidate event as an envelope of the candidate stream (its type must be registered in the contracts). */
export function envelopeOf(e: CandidateEvent, ctx: EventContext): EventEnvelope {
  const def = eventDefinition(e.type);
  if (!def) throw new Error(`unknown event type ${e.type}`);
  return createEvent(def, e.data as never, ctx);
}
