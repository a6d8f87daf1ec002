import { CampaignPaused, DomainError, createEvent } from '@aevo/contracts';
import { relayHeaders, relayPayload, relaySubject } from './relay/cloudevents';
import { relayServerProblem } from './relay/server-version';
import { coalescePauseMs } from './relay/outbox-relay';
import { expectedVersionNumber, validateAppend, validateReadAll } from './validation';
import type { StoredEvent } from './port';
import { schemaNames } from './postgres/schema';

const event = (streamId = 'campaign-a', campaignId = 'camp-1') =>
  createEvent(CampaignPaused, { reason: 'r' }, { campaignId, streamId, source: 'orchestrator' });

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err.issues.map((i) => i.path);
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe('validateAppend', () => {
  it('accepts valid events and returns them parsed', () => {
    const e = event();
    expect(validateAppend('campaign-a', 'no-stream', [e], undefined)).toEqual([e]);
    expect(validateAppend('campaign-a', 3, [], { commandId: 'x', commandResult: { a: 1 } })).toEqual([]);
  });
  it('names every bad field at once', () => {
    const bad = { ...event(), data: { reason: 1 }, source: 'worker' };
    const paths = issuesOf(() => validateAppend('campaign a', -2, [event('other'), bad, 'junk'], { commandId: '' }));
    expect(paths).toEqual(
      expect.arrayContaining([
        'streamId',
        'expectedVersion',
        'commandId',
        'events.0.streamId',
        'events.1.source',
        'events.2.(root)',
      ]),
    );
  });
  it('refuses a non-array, duplicate ids in one batch, unsubjectable campaign ids and oversized events', () => {
    expect(issuesOf(() => validateAppend('campaign-a', 'any', {} as never, undefined))).toEqual(['events']);
    const e = event();
    expect(issuesOf(() => validateAppend('campaign-a', 'any', [e, e], undefined))).toEqual(['events.1.id']);
    expect(issuesOf(() => validateAppend('campaign-a', 'any', [event('campaign-a', 'has.dot')], undefined))).toEqual([
      'events.0.campaignId',
    ]);
    const big = createEvent(
      CampaignPaused,
      { reason: 'x'.repeat(2000) },
      { campaignId: 'c', streamId: 'campaign-a', source: 'orchestrator' },
    );
    expect(issuesOf(() => validateAppend('campaign-a', 'any', [big], undefined, 1000))).toEqual(['events.0']);
  });
  it('maps expected versions', () => {
    expect(expectedVersionNumber('any')).toBe(-1);
    expect(expectedVersionNumber('no-stream')).toBe(0);
    expect(expectedVersionNumber(4)).toBe(4);
  });
  it('checks read options', () => {
    expect(issuesOf(() => validateReadAll({ fromPosition: -1, limit: 0, campaignId: '', types: [''] }))).toEqual([
      'fromPosition',
      'limit',
      'campaignId',
      'types',
    ]);
    expect(() => validateReadAll({ fromPosition: 0, limit: 10, types: ['CampaignPaused'] })).not.toThrow();
  });
});

describe('relay message mapping', () => {
  const stored: StoredEvent = { ...event('campaign-x', 'camp-9'), position: 42, streamVersion: 3 };
  it('maps an event to subject, CloudEvents headers and the stored JSON', () => {
    expect(relaySubject('aevo', stored)).toBe('aevo.evt.camp-9.CampaignPaused');
    const h = relayHeaders(stored);
    expect(h.get('ce-specversion')).toBe('1.0');
    expect(h.get('ce-id')).toBe(stored.id);
    expect(h.get('ce-type')).toBe('CampaignPaused');
    expect(h.get('ce-source')).toBe('/aevo/orchestrator');
    expect(h.get('ce-subject')).toBe('campaign-x');
    expect(h.get('ce-time')).toBe(stored.time);
    expect(h.get('content-type')).toBe('application/json');
    expect(h.get('aevo-position')).toBe('42');
    expect(h.get('aevo-stream-version')).toBe('3');
    expect(JSON.parse(relayPayload(stored))).toEqual(stored);
  });
});

describe('relayServerProblem', () => {
  it('accepts 2.9+ with JetStream and refuses older servers or no JetStream', () => {
    expect(relayServerProblem({ version: '2.9.10', jetstream: true })).toBeNull();
    expect(relayServerProblem({ version: '2.10.0', jetstream: true })).toBeNull();
    expect(relayServerProblem({ version: '3.0.0', jetstream: true })).toBeNull();
    expect(relayServerProblem({ version: '2.8.4', jetstream: true })).toMatch(/older than 2\.9\.0/);
    expect(relayServerProblem({ version: '1.12.0', jetstream: true })).toMatch(/older/);
    expect(relayServerProblem({ version: '2.9.10', jetstream: false })).toMatch(/JetStream is not enabled/);
    expect(relayServerProblem({ version: 'dev' })).toMatch(/unparseable/);
    expect(relayServerProblem(undefined)).toMatch(/no INFO/);
  });
});

describe('schemaNames', () => {
  it('accepts lowercase identifiers only', () => {
    expect(schemaNames('aevo').events).toBe('"aevo".events');
    expect(() => schemaNames('Aevo')).toThrow(/invalid event store schema name/);
    expect(() => schemaNames('a; drop table x')).toThrow(/invalid/);
    expect(() => schemaNames('a'.repeat(49))).toThrow(/invalid/);
  });
});

describe('coalescePauseMs', () => {
  const opts = { coalesceMs: 10, coalesceFromEvents: 8 };
  it('relays a trickle at once and pauses for fuller batches only while busy', () => {
    // A campaign's control flow: each wake-up finds one append's few events; nothing is gained by waiting.
    expect([0, 1, 3, 7].map((n) => coalescePauseMs(n, opts))).toEqual([0, 0, 0, 0]);
    expect([8, 50, 1000].map((n) => coalescePauseMs(n, opts))).toEqual([10, 10, 10]);
    expect(coalescePauseMs(1000, { coalesceMs: 0, coalesceFromEvents: 8 })).toBe(0);
    expect(coalescePauseMs(1, { coalesceMs: 10, coalesceFromEvents: 0 })).toBe(10);
  });
});
