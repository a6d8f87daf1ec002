import type { StreamConfig, StreamInfo } from '@nats-io/jetstream';
import {
  domainApiPrefix,
  ensureSourcedEventStream,
  resolveEventDomain,
  sourceStatus,
  sourcedStreamConfig,
  sourcedStreamProblems,
  type SourcedStreamSpec,
} from './domains';

const spec: SourcedStreamSpec = { stream: 'AEVO_EVENTS', hubDomain: 'hub', hubStream: 'AEVO_EVENTS', prefix: 'aevo' };

describe('domainApiPrefix', () => {
  it('names the domain API', () => expect(domainApiPrefix('c-1')).toBe('$JS.c-1.API'));
  it('refuses a domain that is not one token', () => {
    expect(() => domainApiPrefix('a.b')).toThrow(/JetStream domain "a.b"/);
    expect(() => domainApiPrefix('')).toThrow(/JetStream domain ""/);
  });
});

describe('sourcedStreamConfig', () => {
  it('sources the hub stream through the hub API, with no subjects of its own', () => {
    const c = sourcedStreamConfig({ ...spec, stream: 'EV_C1', prefix: 't1' });
    expect(c).toMatchObject({ name: 'EV_C1', storage: 'file', deny_delete: true, deny_purge: true, max_age: 0 });
    expect(c.num_replicas).toBe(1);
    expect(sourcedStreamConfig({ ...spec, replicas: 3 }).num_replicas).toBe(3);
    expect(c.subjects).toBeUndefined();
    expect(c.sources).toEqual([{ name: 'AEVO_EVENTS', filter_subject: 't1.evt.>', external: { api: '$JS.hub.API' } }]);
  });
  it('names every bad field', () => {
    expect(() =>
      sourcedStreamConfig({ stream: 'a.b', hubDomain: 'h.x', hubStream: '', prefix: 'a.*', replicas: 2.5 }),
    ).toThrow(/stream "a.b".*hubStream "".*hubDomain "h.x".*prefix "a.\*".*replicas 2.5/);
  });
});

describe('sourcedStreamProblems', () => {
  const good = sourcedStreamConfig(spec) as Partial<StreamConfig>;
  it('accepts the config it creates, and a source without filter', () => {
    expect(sourcedStreamProblems(good, spec)).toEqual([]);
    const unfiltered = { ...good, sources: [{ name: 'AEVO_EVENTS', external: { api: '$JS.hub.API' } }] };
    expect(sourcedStreamProblems(unfiltered, spec)).toEqual([]);
  });
  it('refuses own subjects, which would store each event twice', () => {
    expect(sourcedStreamProblems({ ...good, subjects: ['aevo.evt.>'] }, spec)).toEqual([
      'stream AEVO_EVENTS captures subjects (aevo.evt.>); a sourced copy must have none',
    ]);
  });
  it('refuses a stream sourcing another stream, domain or filter', () => {
    expect(sourcedStreamProblems({ ...good, sources: [] }, spec)[0]).toMatch(/does not source AEVO_EVENTS.*none/);
    const otherDomain = { ...good, sources: [{ name: 'AEVO_EVENTS', external: { api: '$JS.c2.API' } }] };
    expect(sourcedStreamProblems(otherDomain, spec)[0]).toMatch(/via \$JS.hub.API \(sources: AEVO_EVENTS via \$JS.c2/);
    const local = { ...good, sources: [{ name: 'AEVO_EVENTS' }] };
    expect(sourcedStreamProblems(local, spec)[0]).toMatch(/AEVO_EVENTS via its own domain/);
    const filtered = {
      ...good,
      sources: [{ name: 'AEVO_EVENTS', filter_subject: 'aevo.evt.*.JobRequested', external: { api: '$JS.hub.API' } }],
    };
    expect(sourcedStreamProblems(filtered, spec)).toEqual([
      'stream AEVO_EVENTS sources AEVO_EVENTS filtered by aevo.evt.*.JobRequested, not aevo.evt.>',
    ]);
  });
  it('refuses a mirror and extra sources', () => {
    const problems = sourcedStreamProblems(
      {
        name: 'X',
        mirror: { name: 'AEVO_EVENTS' },
        sources: [...(good.sources ?? []), { name: 'OTHER', external: { api: '$JS.hub.API' } }],
      },
      spec,
    );
    expect(problems).toEqual([
      'stream X is a mirror of AEVO_EVENTS, not a sourced stream',
      'stream X has 2 sources; events must come from AEVO_EVENTS alone',
    ]);
  });
});

describe('ensureSourcedEventStream', () => {
  const notFound = Object.assign(new Error('stream not found'), { code: 404 });
  const jsmWith = (info: () => Promise<unknown>, add = jest.fn(async (c: unknown) => ({ config: c }))) =>
    ({ streams: { info: jest.fn(info), add } }) as never;
  it('creates the stream when missing', async () => {
    const add = jest.fn(async (c: unknown) => ({ config: c }));
    const info = (await ensureSourcedEventStream(
      jsmWith(() => Promise.reject(notFound), add),
      spec,
    )) as StreamInfo;
    expect(add).toHaveBeenCalledWith(sourcedStreamConfig(spec));
    expect(info.config.sources?.[0].name).toBe('AEVO_EVENTS');
  });
  it('never reconfigures an existing stream: a wrong one is refused', async () => {
    const add = jest.fn();
    const jsm = jsmWith(async () => ({ config: { name: 'AEVO_EVENTS', subjects: ['aevo.evt.>'] } }), add);
    await expect(ensureSourcedEventStream(jsm, spec)).rejects.toThrow(/captures subjects/);
    expect(add).not.toHaveBeenCalled();
  });
  it('passes on errors other than not found', async () => {
    await expect(
      ensureSourcedEventStream(
        jsmWith(() => Promise.reject(new Error('timeout'))),
        spec,
      ),
    ).rejects.toThrow('timeout');
  });
});

describe('sourceStatus', () => {
  it('reads lag, idle time and error of the hub source', () => {
    const info = {
      sources: [{ name: 'AEVO_EVENTS', lag: 3, active: 2_500_000, error: { code: 503, description: 'no responders' } }],
    } as unknown as StreamInfo;
    expect(sourceStatus(info, 'AEVO_EVENTS')).toEqual({ lag: 3, idleMs: 3, error: '503 no responders' });
    expect(sourceStatus({ sources: [{ name: 'AEVO_EVENTS', lag: 0, active: -1 }] }, 'AEVO_EVENTS')).toEqual({
      lag: 0,
      idleMs: null,
      error: null,
    });
    expect(sourceStatus({ sources: [] }, 'AEVO_EVENTS')).toBeNull();
  });
});

describe('resolveEventDomain', () => {
  const messaging = { stream: 'AEVO_EVENTS', subjectPrefix: 'aevo' };
  it('is the hub role without AEVO_JS_DOMAIN', () => {
    expect(resolveEventDomain(messaging, {})).toEqual({ role: 'hub', stream: 'AEVO_EVENTS' });
    expect(resolveEventDomain(messaging, { AEVO_JS_DOMAIN: '' })).toEqual({ role: 'hub', stream: 'AEVO_EVENTS' });
  });
  it('defaults the hub domain to hub and the hub stream to the local name', () => {
    expect(resolveEventDomain(messaging, { AEVO_JS_DOMAIN: 'c1' })).toEqual({
      role: 'compute',
      domain: 'c1',
      hubDomain: 'hub',
      hubStream: 'AEVO_EVENTS',
      stream: 'AEVO_EVENTS',
      prefix: 'aevo',
    });
    expect(
      resolveEventDomain(messaging, { AEVO_JS_DOMAIN: 'c1', AEVO_HUB_DOMAIN: 'ctl', AEVO_HUB_STREAM: 'EV' }),
    ).toMatchObject({ hubDomain: 'ctl', hubStream: 'EV' });
  });
  it('names every bad variable', () => {
    expect(() =>
      resolveEventDomain(messaging, { AEVO_JS_DOMAIN: 'c.1', AEVO_HUB_DOMAIN: '*', AEVO_HUB_STREAM: 'a b' }),
    ).toThrow(/AEVO_JS_DOMAIN "c.1".*AEVO_HUB_DOMAIN "\*".*AEVO_HUB_STREAM "a b"/);
    expect(() => resolveEventDomain(messaging, { AEVO_JS_DOMAIN: 'hub' })).toThrow(/is the hub's domain/);
  });
});
