import { WrongExpectedVersionError } from '@kurrent/kurrentdb-client';
import {
  ConcurrencyError,
  PositionIndex,
  contractEvent,
  eventStoreSelection,
  mapAppendError,
  streamNames,
  toStreamState,
  versionFromCurrent,
} from '../src';

describe('KurrentDB mapping: expected versions', () => {
  it('maps our versions (events counted) to the client stream state (0-based revisions)', () => {
    expect(toStreamState('any')).toBe('any');
    expect(toStreamState('no-stream')).toBe('no_stream');
    expect(toStreamState(0)).toBe('no_stream');
    expect(toStreamState(1)).toBe(0n);
    expect(toStreamState(42)).toBe(41n);
  });

  it('reads the actual version back from the client current state', () => {
    expect(versionFromCurrent('no_stream')).toBe(0);
    expect(versionFromCurrent(0n)).toBe(1);
    expect(versionFromCurrent(9n)).toBe(10);
  });
});

describe('KurrentDB mapping: the concurrency error', () => {
  it('turns the client WrongExpectedVersionError into our ConcurrencyError with the actual version', () => {
    const clientError = new WrongExpectedVersionError(undefined, { streamName: 'aevo:s-1', expected: 0n, current: 2n });
    const mapped = mapAppendError(clientError, 's-1', 1);
    expect(mapped).toBeInstanceOf(ConcurrencyError);
    expect(mapped).toMatchObject({ code: 'CONCURRENCY_CONFLICT', streamId: 's-1', expected: 1, actual: 3 });
    const missing = mapAppendError(
      new WrongExpectedVersionError(undefined, { streamName: 'aevo:s-2', expected: 4n, current: 'no_stream' }),
      's-2',
      5,
    );
    expect(missing).toMatchObject({ actual: 0, expected: 5 });
  });

  it('passes any other error through unchanged', () => {
    const other = new Error('unavailable');
    expect(mapAppendError(other, 's', 'any')).toBe(other);
  });
});

describe('KurrentDB mapping: stream names', () => {
  it('keeps events and command records under different prefixes, so the $all filter sees events only', () => {
    const n = streamNames('aevo');
    expect(n.event('campaign-abc')).toBe('aevo:campaign-abc');
    expect(n.streamIdOf('aevo:campaign-abc')).toBe('campaign-abc');
    expect(n.command('cmd-1')).toMatch(/^aevo-command:[0-9a-f]{64}$/);
    expect(n.command('cmd-1').startsWith(n.eventPrefix)).toBe(false);
    expect(n.streamIdOf(n.command('cmd-1'))).toBeNull();
    expect(() => streamNames('a.b')).toThrow(/namespace "a.b"/);
  });
});

describe('KurrentDB mapping: the gap-free position index', () => {
  const ev = (streamId: string, campaign = 'c1') => ({ ...contractEvent(streamId, campaign), commandId: null });

  it('numbers events 1, 2, 3… in $all order whatever the gaps between their $all positions', () => {
    const idx = new PositionIndex();
    const a = ev('s-a');
    const b = ev('s-b', 'c2');
    const c = ev('s-a');
    expect(idx.add(a, 0n, { commit: 1200n, prepare: 1100n })).toBe(1);
    expect(idx.add(b, 0n, { commit: 9000n, prepare: 8800n })).toBe(2);
    expect(idx.add(c, 1n, { commit: 9000n, prepare: 8900n })).toBe(3);
    expect(idx.head).toBe(3);
    expect(idx.streamVersion('s-a')).toBe(2);
    expect(idx.streamVersion('nothing')).toBe(0);
    expect(idx.readStream('s-a', 1).map((e) => [e.position, e.streamVersion])).toEqual([
      [1, 1],
      [3, 2],
    ]);
    expect(idx.readAll(1, {}).map((e) => e.position)).toEqual([2, 3]);
    expect(idx.readAll(0, { campaignId: 'c2' }).map((e) => e.id)).toEqual([b.id]);
    expect(idx.readAll(0, { limit: 1 }).map((e) => e.position)).toEqual([1]);
    expect(idx.allPositionOf(2)).toEqual({ commit: 9000n, prepare: 8800n });
    expect(idx.reached({ commit: 9000n, prepare: 8900n })).toBe(true);
    expect(idx.reached({ commit: 9001n, prepare: 0n })).toBe(false);
  });

  it('keeps a replayed event at its position and refuses an event older than the last one', () => {
    const idx = new PositionIndex();
    const a = ev('s-a');
    idx.add(a, 0n, { commit: 100n, prepare: 100n });
    idx.add(ev('s-b'), 0n, { commit: 200n, prepare: 200n });
    expect(idx.add(a, 0n, { commit: 100n, prepare: 100n })).toBe(1);
    expect(() => idx.add(ev('s-c'), 0n, { commit: 150n, prepare: 150n })).toThrow(/must be read in order/);
    expect(idx.head).toBe(2);
  });
});

describe('event store selection from the environment', () => {
  it('defaults to PostgreSQL', () => {
    expect(eventStoreSelection({}).kind).toBe('postgres');
    expect(eventStoreSelection({ AEVO_EVENT_STORE: 'postgres', AEVO_DB_SCHEMA: 'x' }).postgres?.schema).toBe('x');
  });

  it('selects KurrentDB with a connection string and a namespace', () => {
    const sel = eventStoreSelection({
      AEVO_EVENT_STORE: 'kurrentdb',
      AEVO_KURRENTDB_URL: 'kurrentdb://127.0.0.1:2113?tls=false',
    });
    expect(sel).toEqual({
      kind: 'kurrentdb',
      kurrentdb: { connectionString: 'kurrentdb://127.0.0.1:2113?tls=false', namespace: 'aevo' },
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => eventStoreSelection({ AEVO_EVENT_STORE: 'mongo' })).toThrow(
      /AEVO_EVENT_STORE="mongo": expected "postgres", "kurrentdb" or "remote"/,
    );
    expect(() => eventStoreSelection({ AEVO_EVENT_STORE: 'kurrentdb' })).toThrow(/AEVO_KURRENTDB_URL is not set/);
    expect(() => eventStoreSelection({ AEVO_EVENT_STORE: 'kurrentdb', AEVO_KURRENTDB_URL: 'http://x:2113' })).toThrow(
      /AEVO_KURRENTDB_URL="http:\/\/x:2113"/,
    );
    expect(() =>
      eventStoreSelection({
        AEVO_EVENT_STORE: 'kurrentdb',
        AEVO_KURRENTDB_URL: 'esdb://x:2113',
        AEVO_KURRENTDB_NAMESPACE: 'a b',
      }),
    ).toThrow(/AEVO_KURRENTDB_NAMESPACE/);
  });
});
