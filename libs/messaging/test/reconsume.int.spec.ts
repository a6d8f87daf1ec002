import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Controller, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createEvent, RoundClosed, type EventOf } from '@aevo/contracts';
import { OutboxRelay, PostgresEventStore } from '@aevo/eventstore';
import { createTestDb, createTestNatsNames, eventually, type TestDb } from '@aevo/testkit';
import { createServiceApp, OnEvent, type ServiceApp } from '../src';

jest.setTimeout(180_000);

const NATS_SERVER = process.env.AEVO_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';
const SEEN = 'SEEN';

@Controller()
class RoundClosedSeen {
  constructor(@Inject(SEEN) private readonly seen: Set<string>) {}
  @OnEvent(RoundClosed)
  onRoundClosed(@Payload() e: EventOf<typeof RoundClosed>): void {
    this.seen.add(e.id);
  }
}
@Module({})
class SeenModule {}
const seenModule = (seen: Set<string>): DynamicModule => ({
  module: SeenModule,
  controllers: [RoundClosedSeen],
  providers: [{ provide: SEEN, useValue: seen }],
});

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

/** A private nats-server with a file store, restartable on the same port (the shared one is never restarted). */
class PrivateNats {
  private child: ChildProcess | null = null;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.child = spawn(
      NATS_SERVER,
      ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', path.join(this.dir, 'js')],
      { stdio: 'ignore' },
    );
    await eventually(
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(this.port, '127.0.0.1', () => (s.end(), resolve(true)));
          s.once('error', () => resolve(false));
        }),
      20_000,
      100,
    );
  }
  async stop(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
}

describe('the transport keeps consuming: an ended consumer iterator is re-established', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  const apps: ServiceApp[] = [];
  const relays: OutboxRelay[] = [];
  let round = 0;
  const closed = (campaignId: string) =>
    createEvent(
      RoundClosed,
      { round: ++round, policyRevision: 0, bestPublicLb: null },
      { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' },
    );

  const startApp = async (natsUrl: string, subjectPrefix: string, stream: string, seen: Set<string>) => {
    const built = await createServiceApp(seenModule(seen), {
      service: 'worker',
      natsUrl,
      subjectPrefix,
      stream,
      store,
      logger: ['error'],
    });
    apps.push(built);
    await built.app.listen();
    return built;
  };

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
  });
  afterEach(async () => {
    while (apps.length > 0) await apps.pop()?.app.close();
    while (relays.length > 0) await relays.pop()?.stop();
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it(
    'given its durable consumer deleted (and then re-created by an operator), ' + 'later events are still handled',
    async () => {
      const names = createTestNatsNames();
      relays.push(
        await OutboxRelay.start({
          databaseUrl: db.url,
          schema: db.schema,
          natsUrl: names.url,
          subjectPrefix: names.subjectPrefix,
          stream: names.stream,
          pollIntervalMs: 100,
        }),
      );
      const seen = new Set<string>();
      await startApp(names.url, names.subjectPrefix, names.stream, seen);
      const nc = await connect({ servers: names.url });
      const jsm = await jetstreamManager(nc);
      try {
        const first = closed('rc1');
        await store.append('campaign-rc1', 'any', [first]);
        await eventually(() => seen.has(first.id), 30_000);

        const consumer = 'worker__RoundClosed';
        const config = (await jsm.consumers.info(names.stream, consumer)).config;
        await jsm.consumers.delete(names.stream, consumer);
        const second = closed('rc1');
        await store.append('campaign-rc1', 'any', [second]);
        await eventually(() => seen.has(second.id), 60_000);

        // An operator deletes it and re-creates it by hand straight away: the transport reads the new one.
        await jsm.consumers.delete(names.stream, consumer);
        await jsm.consumers.add(names.stream, { ...config, durable_name: consumer });
        const third = closed('rc1');
        await store.append('campaign-rc1', 'any', [third]);
        await eventually(() => seen.has(third.id), 60_000);
        const info = await jsm.consumers.info(names.stream, consumer);
        expect(info.config.filter_subject).toBe(`${names.subjectPrefix}.evt.*.RoundClosed`);
      } finally {
        await jsm.streams.delete(names.stream).catch(() => undefined);
        await nc.close();
      }
    },
  );

  it('given nats-server restarted under a live consumer, events relayed after the restart are handled', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-reconsume-'));
    const nats = new PrivateNats(await freePort(), dir);
    await nats.start();
    try {
      const names = { ...createTestNatsNames(), url: nats.url };
      relays.push(
        await OutboxRelay.start({
          databaseUrl: db.url,
          schema: db.schema,
          natsUrl: nats.url,
          subjectPrefix: names.subjectPrefix,
          stream: names.stream,
          pollIntervalMs: 100,
        }),
      );
      const seen = new Set<string>();
      await startApp(nats.url, names.subjectPrefix, names.stream, seen);
      const before = closed('rc2');
      await store.append('campaign-rc2', 'any', [before]);
      await eventually(() => seen.has(before.id), 30_000);

      await nats.stop();
      await new Promise((r) => setTimeout(r, 1_000));
      await nats.start();
      const after = closed('rc2');
      await store.append('campaign-rc2', 'any', [after]);
      await eventually(() => seen.has(after.id), 90_000);
    } finally {
      while (apps.length > 0) await apps.pop()?.app.close();
      while (relays.length > 0) await relays.pop()?.stop();
      await nats.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
