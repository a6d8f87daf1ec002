import 'reflect-metadata';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Controller, Module } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { CancelJob, DomainError, RoundClosed, type CommandOf, type EventOf } from '@aevo/contracts';
import { eventually, events, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { OnCommand, OnEvent } from '../src';

jest.setTimeout(120_000);

const POISON_ROUND = 13;

/** Lets the test hold the handler: while it waits, later messages stay pending on the consumer. */
class Gate {
  private open = true;
  private waiters: Array<() => void> = [];
  close(): void {
    this.open = false;
  }
  release(): void {
    this.open = true;
    for (const w of this.waiters.splice(0)) w();
  }
  pass(): Promise<void> {
    return this.open ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}
const gate = new Gate();

@Controller()
class Handlers {
  @OnEvent(RoundClosed)
  async onRoundClosed(@Payload() e: EventOf<typeof RoundClosed>): Promise<void> {
    await gate.pass();
    if (e.data.round === POISON_ROUND) throw new Error(`round ${POISON_ROUND} is poison`);
  }

  @OnCommand(CancelJob)
  cancel(@Payload() cmd: CommandOf<typeof CancelJob>) {
    if (cmd.payload.reason === 'unknown')
      throw new DomainError('JOB_NOT_FOUND', `no job ${cmd.payload.jobId}`, [
        { path: 'payload.jobId', message: 'unknown job' },
      ]);
    return { cancelled: cmd.payload.jobId };
  }
}

@Module({ controllers: [Handlers] })
class DispatchLikeModule {}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d) => (body += String(d)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** The value of one series in Prometheus text (labels as written by prom-client, `service` last), or null. */
function sample(text: string, name: string, labels: Record<string, string>): number | null {
  const want = Object.entries({ ...labels })
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const [series, value] = line.split(' ');
    const inside = series.slice(name.length + 1, -1);
    const parts = inside.split(',').filter((p) => !p.startsWith('service='));
    if (parts.join(',') === want) return Number(value);
  }
  return null;
}

describe('service probes and Prometheus metrics against nats-server and PostgreSQL', () => {
  let harness: ServiceHarness | undefined;

  afterAll(async () => {
    await harness?.close();
  });

  it(
    'answers /healthz at once, /readyz only once bound, ' + 'and exposes series that move as events and commands flow',
    async () => {
      // The app's own relay, not the harness's: the relay series below are this app's.
      harness = await startServiceHarness(DispatchLikeModule, {
        service: 'dispatch',
        listen: false,
        harnessRelay: false,
        shareStore: true,
        relay: true,
        healthPort: 0,
        metricsPort: 0,
        healthHost: '127.0.0.1',
        server: { ackWaitMs: 10_000, maxDeliver: 2, nakDelayMs: 100, maxNakDelayMs: 200 },
      });
      const built = harness.service;
      const { healthUrl, metricsUrl } = built.observability;
      expect(healthUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(metricsUrl).not.toBe(healthUrl);

      // Built but not listening: up, not ready, and the body names what is missing.
      expect(await get(`${healthUrl}/healthz`)).toEqual({ status: 200, body: '{"status":"up"}' });
      const early = await get(`${healthUrl}/readyz`);
      expect(early.status).toBe(503);
      expect(JSON.parse(early.body)).toMatchObject({
        status: 'not ready',
        failing: ['nats', 'consumers'],
        checks: { store: 'ok', migrations: 'ok' },
      });

      await built.app.listen();
      const ready = await get(`${healthUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({
        status: 'ready',
        failing: [],
        checks: { store: 'ok', nats: 'ok', consumers: 'ok', migrations: 'ok' },
      });

      // Every family is declared before anything happened; sampled gauges carry the consumer and the relay.
      const before = (await get(`${metricsUrl}/metrics`)).body;
      for (const family of [
        'aevo_events_handled_total',
        'aevo_events_failed_total',
        'aevo_event_handler_duration_seconds',
        'aevo_event_redeliveries_total',
        'aevo_dead_letters_total',
        'aevo_commands_total',
        'aevo_consumer_pending_messages',
        'aevo_relay_lag_events',
        'process_cpu_user_seconds_total',
      ])
        expect(before).toContain(`# TYPE ${family} `);
      expect(
        sample(before, 'aevo_consumer_pending_messages', { consumer: 'dispatch__RoundClosed', type: 'RoundClosed' }),
      ).toBe(0);
      // The Grafana dashboard reads only series a service exposes (dispatch's own: services/dispatch
      // dispatch-metrics.spec).
      const dashboard = fs.readFileSync(
        path.join(__dirname, '..', '..', '..', 'deploy', 'grafana', 'aevo-campaign.json'),
        'utf8',
      );
      const exprs = (JSON.parse(dashboard) as { panels: Array<{ targets?: Array<{ expr: string }> }> }).panels.flatMap(
        (p) => (p.targets ?? []).map((t) => t.expr),
      );
      const read = new Set(
        exprs.flatMap((e) =>
          [...e.matchAll(/\b((?:aevo|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) =>
            m[1].replace(/_(bucket|sum|count)$/, ''),
          ),
        ),
      );
      const dispatchOnly = new Set(['aevo_jobs', 'aevo_slots_busy', 'aevo_budget_spent_total']);
      expect(read.size).toBeGreaterThan(10);
      for (const name of read)
        if (!dispatchOnly.has(name))
          expect({ name, declared: before.includes(`# TYPE ${name} `) }).toEqual({ name, declared: true });
      expect(sample(before, 'aevo_events_handled_total', { type: 'RoundClosed' })).toBeNull();

      // Held handler: the backlog shows up as consumer lag, then drains.
      gate.close();
      const rounds = [1, 2, 3, 4, 5, POISON_ROUND];
      await harness.append(...rounds.map((round) => events.RoundClosed({ campaignId: 'c1', data: { round } })));
      await eventually(async () => {
        const text = (await get(`${metricsUrl}/metrics`)).body;
        return (
          (sample(text, 'aevo_consumer_pending_messages', { consumer: 'dispatch__RoundClosed', type: 'RoundClosed' }) ??
            0) >= 1
        );
      }, 30_000);
      gate.release();

      const after = await eventually(async () => {
        const text = (await get(`${metricsUrl}/metrics`)).body;
        return sample(text, 'aevo_dead_letters_total', { type: 'RoundClosed' }) === 1 &&
          sample(text, 'aevo_events_handled_total', { type: 'RoundClosed' }) === 5
          ? text
          : null;
      }, 60_000);
      // The poison failed on both deliveries (maxDeliver 2): two failures, one redelivery, one dead letter.
      expect(sample(after, 'aevo_events_failed_total', { type: 'RoundClosed' })).toBe(2);
      expect(sample(after, 'aevo_event_redeliveries_total', { type: 'RoundClosed' })).toBeGreaterThanOrEqual(1);
      expect(sample(after, 'aevo_event_handler_duration_seconds_count', { type: 'RoundClosed', outcome: 'ok' })).toBe(
        5,
      );
      expect(
        sample(after, 'aevo_event_handler_duration_seconds_count', { type: 'RoundClosed', outcome: 'error' }),
      ).toBe(2);
      await eventually(async () => {
        const text = (await get(`${metricsUrl}/metrics`)).body;
        return (
          sample(text, 'aevo_consumer_pending_messages', { consumer: 'dispatch__RoundClosed', type: 'RoundClosed' }) ===
          0
        );
      }, 30_000);
      // This app's relay leads (no other relay on this schema): it published everything, the dead letter included.
      await eventually(async () => {
        const text = (await get(`${metricsUrl}/metrics`)).body;
        return (
          sample(text, 'aevo_relay_leader', {}) === 1 &&
          sample(text, 'aevo_relay_lag_events', {}) === 0 &&
          (sample(text, 'aevo_relay_published_position', {}) ?? 0) >= 7
        );
      }, 30_000);

      expect((await harness.send(CancelJob, { campaignId: 'c1', jobId: 'j1', reason: 'no longer needed' })).ok).toBe(
        true,
      );
      expect((await harness.send(CancelJob, { campaignId: 'c1', jobId: 'j2', reason: 'unknown' })).ok).toBe(false);
      expect((await harness.send(CancelJob, { campaignId: 'c1', jobId: 'j3', reason: 'unknown' })).ok).toBe(false);
      const commands = (await get(`${metricsUrl}/metrics`)).body;
      expect(sample(commands, 'aevo_commands_total', { command: 'CancelJob', result: 'ok' })).toBe(1);
      expect(sample(commands, 'aevo_commands_total', { command: 'CancelJob', result: 'JOB_NOT_FOUND' })).toBe(2);

      // Closed: the probes stop answering with the app.
      await harness.close();
      await expect(get(`${healthUrl}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
    },
  );
});
