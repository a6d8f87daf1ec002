import { createEvent, RoundClosed } from '@aevo/contracts';
import { eventContentHash, relayPayload, type StoredEvent, type StoredEventLink } from '@aevo/eventstore';
import { StoredEventProof } from './stored-event-proof';

const PREFIX = 'aevo';

function storedEvent(round: number, position: number): StoredEvent {
  const e = createEvent(
    RoundClosed,
    { round, policyRevision: 0, bestPublicLb: null },
    { campaignId: 'c1', streamId: 'campaign-c1', source: 'orchestrator' },
  );
  return {
    ...e,
    causationId: e.causationId ?? null,
    correlationId: e.correlationId ?? null,
    position,
    streamVersion: round,
  } as StoredEvent;
}

/** A store of the given events, counting reads. */
function storeOf(events: StoredEvent[]) {
  const reads: string[][] = [];
  const lookup = async (ids: readonly string[]) => {
    reads.push([...ids]);
    const out = new Map<string, StoredEventLink>();
    for (const e of events)
      if (ids.includes(e.id))
        out.set(e.id, { position: e.position, streamVersion: e.streamVersion, contentHash: eventContentHash(e) });
    return out;
  };
  return { lookup, reads };
}

const bytes = (s: string) => Buffer.from(s, 'utf8');
const subjectOf = (e: StoredEvent) => `${PREFIX}.evt.${e.campaignId}.${e.type}`;

describe('StoredEventProof', () => {
  const a = storedEvent(1, 10);
  const b = storedEvent(2, 11);

  it('given the stored events, when their relayed bodies arrive, then they are proven in one read', async () => {
    const { lookup, reads } = storeOf([a, b]);
    const proof = new StoredEventProof(lookup, { subjectPrefix: PREFIX });
    const verdicts = await Promise.all([a, b].map((e) => proof.verify(subjectOf(e), bytes(relayPayload(e)))));
    expect(verdicts).toEqual([{ stored: true }, { stored: true }]);
    expect(reads).toEqual([[a.id, b.id]]);
    // A second consumer in the process is answered from the cache.
    expect(await proof.verify(subjectOf(a), bytes(relayPayload(a)))).toEqual({ stored: true });
    expect(proof.counters).toEqual({ proven: 3, dropped: 0, lookups: 1, cacheHits: 1 });
  });

  it.each([
    [
      'an event the store does not hold',
      (e: StoredEvent) => ({
        subject: subjectOf(e),
        body: relayPayload({ ...e, id: '00000000-0000-4000-8000-000000000000' }),
      }),
      /not in the store/,
    ],
    [
      'a changed data byte',
      (e: StoredEvent) => ({ subject: subjectOf(e), body: relayPayload(e).replace('"round":1', '"round":7') }),
      /differs from the stored one/,
    ],
    [
      'a changed time',
      (e: StoredEvent) => ({ subject: subjectOf(e), body: relayPayload({ ...e, time: '2020-01-01T00:00:00.000Z' }) }),
      /differs/,
    ],
    [
      'another position',
      (e: StoredEvent) => ({ subject: subjectOf(e), body: relayPayload({ ...e, position: e.position + 1 }) }),
      /stored at position 10/,
    ],
    [
      'another subject',
      (e: StoredEvent) => ({ subject: `${PREFIX}.evt.c2.${e.type}`, body: relayPayload(e) }),
      /not where the relay publishes it/,
    ],
    [
      'an extra key',
      (e: StoredEvent) => ({
        subject: subjectOf(e),
        body: JSON.stringify({ ...JSON.parse(relayPayload(e)), note: 1 }),
      }),
      /keys the relay never writes \(note\)/,
    ],
    [
      'no position',
      (e: StoredEvent) => ({
        subject: subjectOf(e),
        body: JSON.stringify({ ...JSON.parse(relayPayload(e)), position: undefined }),
      }),
      /store position/,
    ],
    ['garbage', (e: StoredEvent) => ({ subject: subjectOf(e), body: 'not json' }), /not JSON/],
  ])(
    'given a stored event, when a message carries %s, then it is not proven, with the reason',
    async (_what, forge, reason) => {
      const { lookup } = storeOf([a]);
      const proof = new StoredEventProof(lookup, { subjectPrefix: PREFIX });
      const { subject, body } = forge(a);
      const verdict = await proof.verify(subject, bytes(body));
      expect(verdict.stored).toBe(false);
      expect(verdict.stored === false && verdict.reason).toMatch(reason);
      expect(proof.counters.dropped).toBe(1);
    },
  );

  it('given a proven event in the cache, when an altered copy arrives, then the cache does not prove it', async () => {
    const { lookup } = storeOf([a]);
    const proof = new StoredEventProof(lookup, { subjectPrefix: PREFIX });
    await proof.verify(subjectOf(a), bytes(relayPayload(a)));
    const verdict = await proof.verify(subjectOf(a), bytes(relayPayload(a).replace('"round":1', '"round":7')));
    expect(verdict.stored).toBe(false);
  });

  it(
    'given a store that cannot be reached, when a message arrives, then verify throws (the caller holds the message) ' +
      'and proves it later',
    async () => {
      let down = true;
      const { lookup } = storeOf([a]);
      const proof = new StoredEventProof(
        async (ids) => {
          if (down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
          return lookup(ids);
        },
        { subjectPrefix: PREFIX },
      );
      await expect(proof.verify(subjectOf(a), bytes(relayPayload(a)))).rejects.toThrow(/ECONNREFUSED/);
      down = false;
      expect(await proof.verify(subjectOf(a), bytes(relayPayload(a)))).toEqual({ stored: true });
    },
  );

  it('keeps at most cacheSize proven events', async () => {
    const events = Array.from({ length: 5 }, (_, i) => storedEvent(i + 1, i + 1));
    const { lookup, reads } = storeOf(events);
    const proof = new StoredEventProof(lookup, { subjectPrefix: PREFIX, cacheSize: 2 });
    for (const e of events) await proof.verify(subjectOf(e), bytes(relayPayload(e)));
    await proof.verify(subjectOf(events[0]), bytes(relayPayload(events[0]))); // evicted: read again
    await proof.verify(subjectOf(events[4]), bytes(relayPayload(events[4]))); // kept
    expect(reads).toHaveLength(6);
  });
});
