import { createEvent, RoundClosed, MessageDeadLettered } from '@aevo/contracts';
import { resolveMessagingConfig } from './config';
import { consumerName, eventSubject, eventTypeFilter, parseEventSubject, commandSubject } from './subjects';
import { missingServerFeatures, serverSupports, parseVersion } from './server-features';
import { nakDelay } from './backoff';
import { unavailableDependency } from './unavailable';
import { decodeEventMessage } from './event-decoding';
import { commandFingerprint, commandResult, decodeCommandRequest, errorReplyOf, okReply } from './command-decoding';
import fc from 'fast-check';
import { DomainError } from '@aevo/contracts';

const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('configuration', () => {
  it('takes options over env over defaults', () => {
    const cfg = resolveMessagingConfig(
      'orchestrator',
      { stream: 'S1' },
      { AEVO_STREAM: 'S2', AEVO_SUBJECT_PREFIX: 'x.y' },
    );
    expect(cfg).toMatchObject({
      service: 'orchestrator',
      stream: 'S1',
      subjectPrefix: 'x.y',
      natsUrl: 'nats://127.0.0.1:4222',
      dbSchema: 'aevo',
    });
  });
  it('names every bad value', () => {
    expect(() =>
      resolveMessagingConfig(
        'orchestrator',
        {},
        { AEVO_SUBJECT_PREFIX: 'a.*', AEVO_STREAM: 'a.b', AEVO_DB_SCHEMA: 'Bad-Name' },
      ),
    ).toThrow(/AEVO_SUBJECT_PREFIX.*AEVO_STREAM.*AEVO_DB_SCHEMA/);
  });
});

describe('subjects', () => {
  it('lays out events, filters, commands and consumers', () => {
    expect(eventSubject('aevo', 'c1', 'RoundStarted')).toBe('aevo.evt.c1.RoundStarted');
    expect(eventTypeFilter('t1.aevo', 'RoundStarted')).toBe('t1.aevo.evt.*.RoundStarted');
    expect(commandSubject('aevo', 'StartRound')).toBe('aevo.cmd.StartRound');
    expect(consumerName('meta-policy', 'RoundEvidenceRecorded')).toBe('meta-policy__RoundEvidenceRecorded');
    expect(parseEventSubject('t1.aevo', 't1.aevo.evt.c-1.RoundStarted')).toEqual({
      campaignId: 'c-1',
      type: 'RoundStarted',
    });
    expect(parseEventSubject('aevo', 'aevo.evt.c1')).toBeNull();
    expect(parseEventSubject('aevo', 'other.evt.c1.X')).toBeNull();
  });
});

describe('server features', () => {
  it('accepts 2.9.10 with JetStream for the baseline and refuses newer features', () => {
    expect(missingServerFeatures({ version: '2.9.10', jetstream: true }, [])).toEqual([]);
    expect(
      missingServerFeatures({ version: '2.9.10', jetstream: true }, ['filter_subjects', 'per-message-ttl']),
    ).toEqual(['filter_subjects needs nats-server >= 2.10.0', 'per-message-ttl needs nats-server >= 2.11.0']);
    expect(serverSupports('2.10.0', 'filter_subjects')).toBe(true);
    expect(serverSupports('2.12.1', 'atomic-batch')).toBe(true);
    expect(serverSupports('2.11.9', 'expected-last-subject-sequence-subject')).toBe(false);
  });
  it('refuses old servers, servers without JetStream and unparseable versions', () => {
    expect(missingServerFeatures({ version: '2.8.4', jetstream: true }, [])).toEqual([
      'pull-consumers needs nats-server >= 2.9.0',
    ]);
    expect(missingServerFeatures({ version: '2.10.1', jetstream: false }, [])).toEqual([
      'JetStream is not enabled on the server (start it with -js)',
    ]);
    expect(missingServerFeatures({ version: 'banana' }, [])).toEqual(['unparseable server version "banana"']);
    expect(parseVersion('v2.9.10-beta')).toEqual([2, 9, 10]);
  });
});

describe('nak backoff', () => {
  it('doubles per delivery and caps', () => {
    expect([1, 2, 3, 4, 10].map((d) => nakDelay(d, 100, 500))).toEqual([100, 200, 400, 500, 500]);
  });
});

describe('dependency outage or handler failure', () => {
  const err = (message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), extra);
  it.each([
    ['refused connect', err('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' })],
    ['dual-stack refusal', new AggregateError([err('connect ECONNREFUSED ::1:5432', { code: 'ECONNREFUSED' })], '')],
    ['admin shutdown', err('terminating connection due to administrator command', { code: '57P01' })],
    ['server starting', err('the database system is starting up', { code: '57P03' })],
    ['connection exception class 08', err('connection failure', { code: '08006' })],
    ['dropped connection', err('Connection terminated unexpectedly')],
    ['wrapped cause', err('append failed', { cause: err('read ECONNRESET', { code: 'ECONNRESET' }) })],
    ['nats connection', Object.assign(err('connection refused'), { name: 'ConnectionError' })],
    ['flagged by a library', err('store unavailable', { dependencyUnavailable: true })],
  ])('%s is an outage', (_what, e) => {
    expect(unavailableDependency(e)).not.toBeNull();
  });
  it.each([
    ['a bug', new TypeError('cannot read properties of undefined')],
    ['a constraint violation', err('duplicate key value violates unique constraint', { code: '23505' })],
    ['a domain refusal', err('no such job', { code: 'JOB_NOT_FOUND' })],
    ['not an error', 'ECONNREFUSED'],
    [
      'a cycle of causes',
      (() => {
        const a = err('a') as Error & { cause?: unknown };
        a.cause = a;
        return a;
      })(),
    ],
  ])('%s is not', (_what, e) => {
    expect(unavailableDependency(e)).toBeNull();
  });
});

describe('event message decoding', () => {
  const ev = createEvent(
    RoundClosed,
    { round: 1, policyRevision: 0, bestPublicLb: null },
    { campaignId: 'c1', streamId: 'campaign-c1', source: 'orchestrator' },
  );
  const subject = 'p.evt.c1.RoundClosed';

  it('accepts the envelope with its position in the body or in headers', () => {
    const a = decodeEventMessage('p', subject, enc({ ...ev, position: 7, streamVersion: 2 }));
    expect(a).toEqual({ ok: true, event: { ...ev, position: 7, streamVersion: 2 } });
    const headers = new Map([
      ['Aevo-Position', '9'],
      ['Aevo-Stream-Version', '3'],
    ]);
    const b = decodeEventMessage('p', subject, enc(ev), { get: (k) => headers.get(k) ?? '' });
    expect(b.ok && b.event.position).toBe(9);
  });

  it('reports, without throwing, non-JSON, bad envelopes, bad data, missing positions and subject mismatches', () => {
    const codes = [
      decodeEventMessage('p', subject, enc('{not json')),
      decodeEventMessage('p', subject, enc([1, 2])),
      decodeEventMessage('p', subject, enc({ ...ev, position: 1, streamVersion: 1, data: { round: 0 } })),
      decodeEventMessage('p', subject, enc({ ...ev, position: 1, streamVersion: 1, type: 'NoSuchThing' })),
      decodeEventMessage('p', subject, enc({ ...ev })),
      decodeEventMessage('p', 'p.evt.other.RoundClosed', enc({ ...ev, position: 1, streamVersion: 1 })),
    ].map((r) => (r.ok ? 'ok' : r.error.code));
    expect(codes).toEqual([
      'INVALID_JSON',
      'INVALID_EVENT',
      'INVALID_EVENT_DATA',
      'UNKNOWN_EVENT_TYPE',
      'INVALID_EVENT',
      'SUBJECT_MISMATCH',
    ]);
    const r = decodeEventMessage('p', subject, enc({ ...ev, position: 1, streamVersion: 1, data: { round: 0 } }));
    expect(!r.ok && r.eventId).toBe(ev.id);
    expect(!r.ok && r.error.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['data.round']));
  });

  it('refuses an event emitted by a service that does not own it', () => {
    const forged = { ...ev, source: 'worker', position: 1, streamVersion: 1 };
    const r = decodeEventMessage('p', subject, enc(forged));
    expect(!r.ok && r.error.code).toBe('NOT_EVENT_OWNER');
    expect(MessageDeadLettered.owners).toContain('worker');
  });
});

describe('command request decoding and replies', () => {
  it('validates with parseCommand and names each field', () => {
    const ok = decodeCommandRequest(
      'StartRound',
      enc({ commandId: 'cmd-12345678', name: 'StartRound', payload: { campaignId: 'c1', round: 1 } }),
    );
    expect(ok.ok && ok.command.payload).toEqual({ campaignId: 'c1', round: 1 });
    const bad = decodeCommandRequest(
      'StartRound',
      enc({ commandId: 'cmd-12345678', name: 'StartRound', payload: { campaignId: 'c 1', round: 0 } }),
    );
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.reply.commandId).toBe('cmd-12345678');
    expect(bad.reply.error.code).toBe('INVALID_COMMAND');
    expect(bad.reply.error.issues.map((i) => i.path).sort()).toEqual(['payload.campaignId', 'payload.round']);
  });
  it('answers non-JSON with INVALID_JSON and unknown commands with UNKNOWN_COMMAND', () => {
    const notJson = decodeCommandRequest('StartRound', enc('\u0000garbage'));
    expect(!notJson.ok && notJson.reply.error).toMatchObject({ code: 'INVALID_JSON', issues: [{ path: '(root)' }] });
    const unknown = decodeCommandRequest('Nope', enc({}));
    expect(!unknown.ok && unknown.reply.error.code).toBe('UNKNOWN_COMMAND');
  });
  it('maps handler errors: DomainError keeps its code, anything else is INTERNAL', () => {
    expect(
      errorReplyOf(
        'c',
        new DomainError('ROUND_ALREADY_STARTED', 'no', [{ path: 'payload.round', message: 'started' }]),
      ),
    ).toEqual({
      ok: false,
      commandId: 'c',
      error: { code: 'ROUND_ALREADY_STARTED', message: 'no', issues: [{ path: 'payload.round', message: 'started' }] },
    });
    expect(errorReplyOf('c', new TypeError('boom')).error).toEqual({ code: 'INTERNAL', message: 'boom', issues: [] });
    expect(errorReplyOf('c', { status: 'error', message: 'Internal server error' }).error.code).toBe('INTERNAL');
  });
  it('wraps results, with duplicate when the handler says so', () => {
    expect(okReply('c', { a: 1 })).toEqual({ ok: true, commandId: 'c', duplicate: false, result: { a: 1 } });
    expect(okReply('c', commandResult({ a: 1 }, { duplicate: true }))).toEqual({
      ok: true,
      commandId: 'c',
      duplicate: true,
      result: { a: 1 },
    });
    expect(okReply('c', undefined)).toEqual({ ok: true, commandId: 'c', duplicate: false, result: null });
  });
});

describe('command fingerprint', () => {
  it('binds the name and the body, not the key order or the envelope', () => {
    const a = commandFingerprint({ name: 'PauseCampaign', payload: { campaignId: 'c1', reason: 'r' } });
    expect(commandFingerprint({ name: 'PauseCampaign', payload: { reason: 'r', campaignId: 'c1' } })).toBe(a);
    expect(commandFingerprint({ name: 'AbortCampaign', payload: { campaignId: 'c1', reason: 'r' } })).not.toBe(a);
    expect(commandFingerprint({ name: 'PauseCampaign', payload: { campaignId: 'c2', reason: 'r' } })).not.toBe(a);
    expect(commandFingerprint({ name: 'PauseCampaign', payload: { campaignId: 'c1', reason: 'r ' } })).not.toBe(a);
  });

  it('differs whenever name or body differ (property)', () => {
    const body = fc.dictionary(
      fc.string({ maxLength: 8 }),
      fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null)),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 12 }),
        body,
        fc.string({ minLength: 1, maxLength: 12 }),
        body,
        (n1, p1, n2, p2) => {
          const same =
            n1 === n2 && JSON.stringify(Object.entries(p1).sort()) === JSON.stringify(Object.entries(p2).sort());
          expect(commandFingerprint({ name: n1, payload: p1 }) === commandFingerprint({ name: n2, payload: p2 })).toBe(
            same,
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
