import 'reflect-metadata';
import { Controller, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { CancelJob, RoundClosed, RoundEvidenceRecorded, type CommandOf, type EventOf } from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE, OnCommand, OnEvent } from '@aevo/messaging';
import { events, startServiceHarness, type ServiceHarness } from '../src';

jest.setTimeout(120_000);

const REPLICA = 'REPLICA';

/** A collector-like service: records evidence for each closed round, naming the replica that handled it. */
@Controller()
class Handlers {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(REPLICA) private readonly replica: string,
  ) {}

  @OnEvent(RoundClosed)
  async onRoundClosed(@Payload() e: EventOf<typeof RoundClosed>): Promise<void> {
    const evidence = events.RoundEvidenceRecorded({
      campaignId: e.campaignId,
      streamId: `evidence-${e.campaignId}-r${e.data.round}-${this.replica}`,
      causationId: e.id,
      data: { round: e.data.round, inputEventIds: [e.id] },
    });
    await this.store.append(evidence.streamId, 'any', [evidence]);
  }

  @OnCommand(CancelJob)
  cancel(@Payload() cmd: CommandOf<typeof CancelJob>) {
    return { cancelled: cmd.payload.jobId, by: this.replica };
  }
}
@Module({})
class HandlersModule {}
const replica = (name: string): DynamicModule => ({
  module: HandlersModule,
  controllers: [Handlers],
  providers: [{ provide: REPLICA, useValue: name }],
});

describe('startServiceHarness against PostgreSQL and nats-server', () => {
  let harness: ServiceHarness;

  beforeAll(async () => {
    // CancelJob belongs to dispatch; RoundEvidenceRecorded is appended through the store, not emitted as dispatch.
    harness = await startServiceHarness([replica('a'), replica('b')], { service: 'dispatch', waitTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('relays appended upstream events to the replicas and waits for what they record', async () => {
    const closed = [1, 2, 3].map((round) => events.RoundClosed({ campaignId: 'h1', data: { round } }));
    await harness.append(...closed);
    for (const c of closed) {
      const recorded = await harness.waitForEvent(RoundEvidenceRecorded, (e) => e.causationId === c.id);
      expect(recorded.data).toMatchObject({ round: c.data.round, inputEventIds: [c.id] });
    }
    expect(await harness.eventsOf(RoundEvidenceRecorded, 'h1')).toHaveLength(3);
    expect(await harness.eventsOf(RoundEvidenceRecorded, 'elsewhere')).toEqual([]);
  });

  it('sends commands on the suite’s prefix to the replicas’ queue group', async () => {
    const reply = await harness.send(CancelJob, { campaignId: 'h1', jobId: 'j1', reason: 'test' });
    expect(reply).toMatchObject({ ok: true, result: { cancelled: 'j1' } });
    expect(harness.replicas).toHaveLength(2);
  });

  it('rejects a wait that nothing satisfies, naming the event type', async () => {
    await expect(
      harness.waitForEvent(RoundEvidenceRecorded, (e) => e.data.round === 99, { timeoutMs: 300 }),
    ).rejects.toThrow(/no matching RoundEvidenceRecorded recorded/);
  });

  it('stops every replica and starts another that takes up what was appended meanwhile', async () => {
    await harness.stopReplicas();
    expect(harness.replicas).toEqual([]);
    const closed = events.RoundClosed({ campaignId: 'h2', data: { round: 1 } });
    await harness.append(closed);
    await harness.startReplica(replica('c'));
    const recorded = await harness.waitForEvent(RoundEvidenceRecorded, (e) => e.causationId === closed.id);
    expect(recorded.streamId).toBe('evidence-h2-r1-c');
    expect(harness.replicas).toHaveLength(1);
  });

  it('keeps each suite apart: its own schema, subject prefix and stream', () => {
    expect(harness.db.schema).toMatch(/^aevo_t_[0-9a-f]{8}$/);
    expect(harness.names.subjectPrefix).toMatch(/^t[0-9a-f]{8}\.aevo$/);
    expect(harness.names.stream).toMatch(/^AEVO_T_[0-9A-F]{8}$/);
  });
});
