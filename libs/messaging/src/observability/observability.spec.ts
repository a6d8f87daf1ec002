import * as http from 'node:http';
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
    expect(() => parsePortSetting('AEVO_METRICS_PORT', 'http')).toThrow(/AEVO_METRICS_PORT "http": expected a TCP port number/);
    expect(() => parsePortSetting('AEVO_METRICS_PORT', '70000')).toThrow(/AEVO_METRICS_PORT "70000"/);
    expect(() => parsePortSetting('AEVO_METRICS_PORT', '-1')).toThrow(/AEVO_METRICS_PORT/);
  });

  it('prefers explicit options (null included) over the environment', () => {
    const env = { AEVO_HEALTH_PORT: '8081', AEVO_METRICS_PORT: '9464', AEVO_HEALTH_HOST: '127.0.0.1' };
    expect(resolveObservabilityPorts({}, env)).toEqual({ healthPort: 8081, metricsPort: 9464, host: '127.0.0.1' });
    expect(resolveObservabilityPorts({ healthPort: null, metricsPort: 0 }, env)).toEqual({ healthPort: null, metricsPort: 0, host: '127.0.0.1' });
    expect(resolveObservabilityPorts({}, {})).toEqual({ healthPort: null, metricsPort: null, host: '0.0.0.0' });
    expect(() => resolveObservabilityPorts({ healthPort: 1.5 }, {})).toThrow(/healthPort 1.5/);
  });
});

describe('readiness', () => {
  it('names each failing check with its reason: a thrown error, a returned reason, a check that does not answer', async () => {
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
      checks: { store: 'ok', nats: 'connection reconnecting', consumers: 'not bound', hung: 'no answer within 50 ms' },
    });
    expect(await evaluateReadiness({ a: async () => null }, 50)).toEqual({ ready: true, failing: [], checks: { a: 'ok' } });
  });
});

describe('ObservabilityServer', () => {
  it('serves /healthz, /readyz (503 naming the failing check, then 200) and /metrics on one port', async () => {
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
      expect(JSON.parse(down.body)).toEqual({ status: 'not ready', failing: ['store'], checks: { store: 'connect ECONNREFUSED' } });
      storeDown = false;
      expect(await get(port, '/readyz')).toMatchObject({ status: 200 });
      expect((await get(port, '/metrics')).status).toBe(404);
    } finally {
      await server.close();
    }

    const both = await ObservabilityServer.start({ host: '127.0.0.1', healthPort: 0, metricsPort: 0, readiness: {}, metrics });
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
  });

  it('refuses to start on a port in use, naming it', async () => {
    const first = await ObservabilityServer.start({ host: '127.0.0.1', healthPort: 0, metricsPort: null, readiness: {} });
    const port = first.portOf('healthz') as number;
    try {
      await expect(ObservabilityServer.start({ host: '127.0.0.1', healthPort: port, metricsPort: null, readiness: {} })).rejects.toThrow(
        new RegExp(`cannot serve /healthz, /readyz on 127.0.0.1:${port}`),
      );
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
    expect(() => b.sampledGauge('aevo_jobs', 'again', [], () => [])).toThrow(/aevo_jobs is already registered for dispatch/);
    const textA = await a.metrics();
    const textB = await b.metrics();
    expect(textA).toContain('aevo_commands_total{command="CancelJob",result="JOB_NOT_FOUND",service="worker"} 1');
    expect(textA).not.toContain('aevo_jobs');
    expect(textB).toContain('aevo_jobs{phase="running",service="dispatch"} 2');
    expect(textB).toContain('aevo_jobs{phase="queued",service="dispatch"} 1');
  });
});
