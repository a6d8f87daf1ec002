import { CampaignPaused, WorkerStarted, createEvent, type EventEnvelope } from '@aevo/contracts';
import { candidateStreamDecider, envelopeOf, LeaseLostError, type CandidateStreamState } from './candidate-stream';
import type { CandidateCommand } from './candidate';

const C = 'camp-r1-c1';
const ctx = { candidateId: C, campaignId: 'camp', streamId: `candidate-${C}`, source: 'worker' as const };
const decider = candidateStreamDecider(ctx);
const fold = (events: EventEnvelope[]): CandidateStreamState =>
  events.reduce((s, e) => decider.evolve(s, e), decider.initialState());
const started = (workerId: string) =>
  createEvent(
    WorkerStarted,
    { candidateId: C, round: 1, workerId, agentKind: 'heuristic', resumedFromStep: null },
    { ...ctx, source: 'worker' },
  );
const intent: CandidateCommand = { kind: 'RecordIntent', candidateId: C, step: 0, tool: 'list_files', input: {} };
const types = (events: EventEnvelope[]) => events.map((e) => e.type);

describe('candidate stream decider (the trace engine through handle())', () => {
  it(
    'given the stream still at the version the commands were staged at, when ' +
      'decided, then the staged envelopes are the decision',
    () => {
      const history = [started('w1')];
      const staged = decider.decide({ commands: [intent] }, fold(history));
      const again = decider.decide({ commands: [intent], decidedAt: { version: 1, events: staged } }, fold(history));
      expect(again).toBe(staged);
    },
  );

  it('given another replica appended after the staged version, when decided, then the lease is lost', () => {
    const history = [started('w1'), started('w2')];
    expect(() => decider.decide({ commands: [intent], decidedAt: { version: 1, events: [] } }, fold(history))).toThrow(
      LeaseLostError,
    );
  });

  it(
    "given someone else's event after the staged version, when decided, " +
      'then the commands are decided on the new state',
    () => {
      const note = createEvent(CampaignPaused, { reason: 'operator note' }, { ...ctx, source: 'orchestrator' });
      const history = [started('w1'), note];
      const out = decider.decide({ commands: [intent], decidedAt: { version: 1, events: [] } }, fold(history));
      expect(types(out)).toEqual(['TraceStepRecorded']);
      expect(out[0]).toMatchObject({ source: 'worker', streamId: ctx.streamId, data: { step: 0, phase: 'intent' } });
    },
  );

  it('decides a batch in order, each command on the state the previous one left', () => {
    const outcome: CandidateCommand = { ...intent, kind: 'RecordOutcome', ok: true, output: [] };
    const out = decider.decide({ commands: [intent, outcome] }, fold([started('w1')]));
    expect(out.map((e) => (e.data as { phase: string }).phase)).toEqual(['intent', 'outcome']);
  });

  it('fails a candidate no runtime could open with WorkerFailed alone when there is no manifest', () => {
    const out = decider.decide(
      { commands: [{ kind: 'Fail', candidateId: C, round: 1, reason: 'bad fork' }] },
      fold([]),
    );
    expect(types(out)).toEqual(['WorkerFailed']);
    expect(out[0].data).toEqual({ candidateId: C, round: 1, reason: 'bad fork', step: null });
  });

  it('refuses an event type the contracts do not register', () => {
    expect(() => envelopeOf({ type: 'NoSuchEvent', data: {} }, ctx)).toThrow(/unknown event type NoSuchEvent/);
  });
});
