import {
  createEvent,
  parseEvent,
  RoundClosed,
  DomainError,
  uuidv7,
  parseCommand,
  StartRound,
  errorReply,
} from './index';

describe('event envelope', () => {
  const ctx = { campaignId: 'c1', streamId: 'campaign-c1', source: 'orchestrator' as const };

  it('creates a validated event with a UUIDv7 id that sorts by time', () => {
    const e = createEvent(RoundClosed, { round: 1, policyRevision: 1, bestPublicLb: 0.5 }, ctx);
    expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(uuidv7(1000) < uuidv7(2000)).toBe(true);
    expect(parseEvent(JSON.parse(JSON.stringify(e)))).toEqual(e);
  });

  it('names the bad field of an event', () => {
    try {
      createEvent(RoundClosed, { round: 0, policyRevision: 1, bestPublicLb: null }, ctx);
      throw new Error('expected a refusal');
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).issues.map((i) => i.path)).toEqual(['data.round']);
    }
  });

  it('refuses an event emitted by a service that does not own it', () => {
    expect(() =>
      createEvent(RoundClosed, { round: 1, policyRevision: 1, bestPublicLb: null }, { ...ctx, source: 'worker' }),
    ).toThrow(/may not emit RoundClosed/);
  });
});

describe('command parsing', () => {
  it('accepts a valid command and applies defaults', () => {
    const c = parseCommand('StartRound', {
      commandId: 'cmd-12345678',
      name: 'StartRound',
      payload: { campaignId: 'c1', round: 2 },
    });
    expect(c.payload).toEqual({ campaignId: 'c1', round: 2 });
    expect(c.issuedBy).toBe('cli');
  });

  it('reports every invalid field with its path', () => {
    try {
      parseCommand(StartRound.name, {
        commandId: 'x',
        name: 'StartRound',
        payload: { campaignId: 'a.b', round: 'one', extra: 1 },
      });
      throw new Error('expected a refusal');
    } catch (err) {
      const reply = errorReply(null, err);
      expect(reply.ok).toBe(false);
      if (reply.ok) return;
      expect(reply.error.code).toBe('INVALID_COMMAND');
      expect(reply.error.issues.map((i) => i.path).sort()).toEqual(
        ['commandId', 'payload', 'payload.campaignId', 'payload.round'].sort(),
      );
    }
  });
});
