import * as http from 'node:http';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { AppendOptions, EventStore } from '@aevo/eventstore';
import type { EventEnvelope } from '@aevo/contracts';
import {
  activeTraceContext,
  otlpTracesUrl,
  ServiceTracing,
  SpanKind,
  tracedStore,
  type TracedAppendOptions,
} from './tracing';
import { evaluateReadiness, ObservabilityServer } from './health-server';
import { ServiceMetrics } from './metrics';
import { parsePortSetting, resolveObservabilityPorts } from './ports';

const get = (port: number, path: string) =>
  new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (d) => (body += String(d)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });

describe('observability port settings', () => {
  it('is off when unset or empty, a number otherwise, and names the variable of a bad value', () => {
    expect(parsePortSetting('AEVO_HEALTH_PORT', undefined)).toBeNull();
    expect(parsePortSetting('AEVO_HEALTH_PORT', ' ')).toBeNull();
    expect(parsePortSetting('AEVO_HEALTH_PORT', '8081')).toBe(8081);
    expect(parsePortSetting('AEVO_HEALTH_PORT', '0')).toBe(0);
    expect(() => parsePortSetting('AEVO_METRICS_PORT', 'http')).toThrow(
      /AEVO_METRICS_PORT "http": expected a TCP port number/,
    );
    expect(() => parsePortSetting('AEVO_METRICS_PORT', '70000')).toThrow(/AEVO_METRICS_PORT "70000"/);
    expect(() => parsePortSetting('AEVO_METRICS_PORT', '-1')).toThrow(/AEVO_METRICS_PORT/);
  });

  it('prefers explicit options (null included) over the environment', () => {
    const env = { AEVO_HEALTH_PORT: '8081', AEVO_METRICS_PORT: '9464', AEVO_HEALTH_HOST: '127.0.0.1' };
    expect(resolveObservabilityPorts({}, env)).toEqual({ healthPort: 8081, metricsPort: 9464, host: '127.0.0.1' });
    expect(resolveObservabilityPorts({ healthPort: null, metricsPort: 0 }, env)).toEqual({
      healthPort: null,
      metricsPort: 0,
      host: '127.0.0.1',
    });
    expect(resolveObservabilityPorts({}, {})).toEqual({ healthPort: null, metricsPort: null, host: '0.0.0.0' });
    expect(() => resolveObservabilityPorts({ healthPort: 1.5 }, {})).toThrow(/healthPort 1.5/);
  });
});

describe('readiness', () => {
  it(
    'names each failing check with its reason: a thrown error, ' + 'a returned reason, a check that does not answer',
    async () => {
      const report = await evaluateReadiness(
        {
          store: async () => undefined,
          nats: async () => 'connection reconnecting',
          consumers: async () => {
            throw new Error('not bound');
          },
          hung: () => new Promise(() => undefined),
        },
        50,
      );
      expect(report).toEqual({
        ready: false,
        failing: ['nats', 'consumers', 'hung'],
        checks: {
          store: 'ok',
          nats: 'connection reconnecting',
          consumers: 'not bound',
          hung: 'no answer within 50 ms',
        },
      });
      expect(await evaluateReadiness({ a: async () => null }, 50)).toEqual({
        ready: true,
        failing: [],
        checks: { a: 'ok' },
      });
    },
  );
});

describe('ObservabilityServer', () => {
  it(
    'serves /healthz and /readyz (503 naming the failing check, then 200), /metrics on its own port or on the same ' +
      'one',
    async () => {
      let storeDown = true;
      const metrics = new ServiceMetrics('worker', { processMetrics: false });
      metrics.eventHandled('RoundClosed', 0.02);
      const server = await ObservabilityServer.start({
        host: '127.0.0.1',
        healthPort: 0,
        metricsPort: null,
        readiness: { store: async () => (storeDown ? 'connect ECONNREFUSED' : null) },
        metrics,
      });
      try {
        const port = server.portOf('readyz') as number;
        expect(server.portOf('metrics')).toBeNull();
        expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: '{"status":"up"}' });
        const down = await get(port, '/readyz');
        expect(down.status).toBe(503);
        expect(JSON.parse(down.body)).toEqual({
          status: 'not ready',
          failing: ['store'],
          checks: { store: 'connect ECONNREFUSED' },
        });
        storeDown = false;
        expect(await get(port, '/readyz')).toMatchObject({ status: 200 });
        expect((await get(port, '/metrics')).status).toBe(404);
      } finally {
        await server.close();
      }

      const both = await ObservabilityServer.start({
        host: '127.0.0.1',
        healthPort: 0,
        metricsPort: 0,
        readiness: {},
        metrics,
      });
      try {
        // Two "any port" settings are two servers, each with its own routes.
        const metricsPort = both.portOf('metrics') as number;
        expect(metricsPort).not.toBe(both.portOf('healthz'));
        const scraped = await get(metricsPort, '/metrics');
        expect(scraped.type).toMatch(/^text\/plain/);
        expect(scraped.body).toContain('aevo_events_handled_total{type="RoundClosed",service="worker"} 1');
        expect((await get(metricsPort, '/healthz')).status).toBe(404);
      } finally {
        await both.close();
      }

      // The same number for both (k8s may use one port): one server answers all three.
      const probe = await ObservabilityServer.start({
        host: '127.0.0.1',
        healthPort: 0,
        metricsPort: null,
        readiness: {},
      });
      const shared = probe.portOf('healthz') as number;
      await probe.close();
      const one = await ObservabilityServer.start({
        host: '127.0.0.1',
        healthPort: shared,
        metricsPort: shared,
        readiness: {},
        metrics,
      });
      try {
        expect(one.portOf('metrics')).toBe(shared);
        expect((await get(shared, '/readyz')).status).toBe(200);
        expect((await get(shared, '/metrics')).body).toContain('aevo_events_handled_total');
      } finally {
        await one.close();
      }
    },
  );

  it('refuses to start on a port in use, naming it', async () => {
    const first = await ObservabilityServer.start({
      host: '127.0.0.1',
      healthPort: 0,
      metricsPort: null,
      readiness: {},
    });
    const port = first.portOf('healthz') as number;
    try {
      await expect(
        ObservabilityServer.start({ host: '127.0.0.1', healthPort: port, metricsPort: null, readiness: {} }),
      ).rejects.toThrow(new RegExp(`cannot serve /healthz, /readyz on 127.0.0.1:${port}`));
    } finally {
      await first.close();
    }
  });
});

describe('ServiceMetrics', () => {
  it('keeps each service in a registry of its own and refuses a sampled gauge registered twice', async () => {
    const a = new ServiceMetrics('worker', { processMetrics: false });
    const b = new ServiceMetrics('dispatch', { processMetrics: false });
    a.commandAnswered('CancelJob', 'JOB_NOT_FOUND', 0.001);
    b.sampledGauge('aevo_jobs', 'jobs by phase', ['phase'], () => [
      { labels: { phase: 'running' }, value: 2 },
      { labels: { phase: 'queued' }, value: 1 },
    ]);
    expect(() => b.sampledGauge('aevo_jobs', 'again', [], () => [])).toThrow(
      /aevo_jobs is already registered for dispatch/,
    );
    const textA = await a.metrics();
    const textB = await b.metrics();
    expect(textA).toContain('aevo_commands_total{command="CancelJob",result="JOB_NOT_FOUND",service="worker"} 1');
    expect(textA).not.toContain('aevo_jobs');
    expect(textB).toContain('aevo_jobs{phase="running",service="dispatch"} 2');
    expect(textB).toContain('aevo_jobs{phase="queued",service="dispatch"} 1');
  });
});

describe('tracing', () => {
  it(
    'continues the trace of a traceparent header; appends caused by the handled message carry the handler span, ' +
      "later ones their cause's context",
    async () => {
      const exporter = new InMemorySpanExporter();
      const tracing = ServiceTracing.create('worker', { exporter }) as ServiceTracing;
      const appended: Array<TracedAppendOptions | undefined> = [];
      const store = {
        append: async (_s: string, _v: unknown, _e: unknown[], opts?: AppendOptions) => (
          appended.push(opts),
          { streamId: 's', nextExpectedVersion: 1, positions: [1], duplicate: false }
        ),
        headPosition: async () => 7,
      } as unknown as EventStore;
      const traced = tracedStore(store, tracing);
      const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const headers = new Map([['traceparent', incoming]]);
      const lookup = { get: (k: string) => headers.get(k) ?? '', keys: () => [...headers.keys()] };
      const ev = (id: string, causationId: string | null) => ({ id, causationId }) as unknown as EventEnvelope;
      await tracing.inSpan(
        'process RoundClosed',
        SpanKind.CONSUMER,
        ServiceTracing.extract(lookup),
        { 'aevo.event.type': 'RoundClosed' },
        async () => {
          // caused by the handled message
          await traced.append('campaign-c1', 'any', [ev('e-2', 'e-1')], { commandId: 'cmd-1' });
          await traced.append('campaign-c1', 'any', [ev('e-x', 'unrelated')]); // not caused by it: no context
        },
        'e-1',
      );
      await traced.append('job-1', 'any', [ev('e-3', 'e-2')]); // later, caused by an event appended under the span
      // the handler has finished: e-1 is no longer handled here
      await traced.append('job-1', 'any', [ev('e-4', 'e-1')]);
      expect(await traced.headPosition()).toBe(7);
      const [span] = exporter.getFinishedSpans();
      expect(span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(span.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
      expect(span.resource.attributes['service.name']).toBe('worker');
      const handlerContext = { traceparent: `00-0af7651916cd43dd8448eb211c80319c-${span.spanContext().spanId}-01` };
      expect(appended).toEqual([
        { commandId: 'cmd-1', traceContext: handlerContext },
        undefined,
        { traceContext: handlerContext },
        undefined,
      ]);
      // A context the caller gives wins.
      const given = { traceparent: '00-11111111111111111111111111111111-2222222222222222-01' };
      await traced.append('job-1', 'any', [ev('e-5', 'e-2')], { traceContext: given } as TracedAppendOptions);
      expect(appended[4]).toEqual({ traceContext: given });
      expect(activeTraceContext()).toBeUndefined();
      await tracing.shutdown();
    },
  );

  it('records a handler error on its span and rethrows it unchanged', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = ServiceTracing.create('worker', { exporter }) as ServiceTracing;
    const boom = new Error('poison');
    await expect(
      tracing.inSpan('process X', SpanKind.CONSUMER, ServiceTracing.extract(undefined), {}, async () =>
        Promise.reject(boom),
      ),
    ).rejects.toBe(boom);
    const [span] = exporter.getFinishedSpans();
    expect(span.status).toEqual({ code: 2, message: 'poison' });
    expect(span.parentSpanContext).toBeUndefined();
    await tracing.shutdown();
  });

  it('exports over OTLP/HTTP only when an endpoint is configured, and names a bad one', () => {
    expect(otlpTracesUrl({})).toBeNull();
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318/' })).toBe(
      'http://otel-collector:4318/v1/traces',
    );
    expect(otlpTracesUrl({ AEVO_OTLP_ENDPOINT: 'https://traces.example' })).toBe('https://traces.example/v1/traces');
    expect(
      otlpTracesUrl({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://other:4318',
      }),
    ).toBe('http://c:4318/custom');
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
    expect(() => otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://c:4317' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT "grpc:\/\/c:4317": expected http/,
    );
  });
});
