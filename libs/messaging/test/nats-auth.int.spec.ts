import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { okReply } from '../src/command-decoding';
import { CommandClient } from '../src/command-client';
import { ensureDurableConsumer, ensureEventStream, type ConsumerSpec } from '../src/provisioning';
import { commandSubject, consumerName, eventSubject, eventTypeFilter } from '../src/subjects';
import { natsAuthFor } from '../src/auth';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '../../..');
const NATS_SERVER = process.env.AEVO_NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const PREFIX = 'aevo';
const STREAM = 'AEVO_EVENTS';

let dir: string;
let url: string;
let server: ChildProcess | undefined;
let serverLog = '';
const open: NatsConnection[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nats-server did not listen on ${port}: ${serverLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const credFile = (user: string) => path.join(dir, 'credentials', `${user}.json`);

async function connectAs(user: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: url,
    name: `test-${user}`,
    ...natsAuthFor({ AEVO_NATS_CREDENTIALS_FILE: credFile(user) }, user),
  });
  open.push(nc);
  return nc;
}

/** The next permission violation the server reports on `nc` (an async -ERR for a publish or subscribe). */
function nextViolation(nc: NatsConnection, timeoutMs = 3000): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && /permissions violation/i.test(String((s as { error?: unknown }).error))) {
          clearTimeout(timer);
          resolve(String((s as { error?: unknown }).error));
          return;
        }
      }
    })();
  });
}

async function expectPublishRefused(nc: NatsConnection, subject: string): Promise<void> {
  const violation = nextViolation(nc);
  nc.publish(subject, 'x');
  await nc.flush();
  const v = await violation;
  expect(v).toMatch(/permissions violation/i);
  expect(v).toContain(subject);
}

/** A request the server refuses to carry: rejected with the permission error (v3 client) or never answered. */
async function expectRequestRefused(nc: NatsConnection, subject: string, data = ''): Promise<void> {
  const violation = nextViolation(nc);
  const outcome = await nc.request(subject, data, { timeout: 1500 }).then(
    () => 'answered',
    (err: Error) => String(err.message),
  );
  expect(outcome).not.toBe('answered');
  expect(await violation).toMatch(/permissions violation/i);
}

const spec = (service: string, type: string, extra: Partial<ConsumerSpec> = {}): ConsumerSpec => ({
  durable: consumerName(service, type),
  filterSubject: eventTypeFilter(PREFIX, type),
  ackWaitMs: 30_000,
  maxDeliver: 10,
  deliverPolicy: 'all',
  maxAckPending: 1000,
  ...extra,
});

const jobRequested = (campaignId: string, n: number) => JSON.stringify({ campaignId, n });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-nats-auth-'));
  const port = await freePort();
  url = `nats://127.0.0.1:${port}`;
  execFileSync(
    'node',
    [
      path.join(ROOT, 'tools/nats-auth-config.js'),
      '--out',
      dir,
      '--port',
      String(port),
      '--store-dir',
      path.join(dir, 'js'),
    ],
    {
      cwd: ROOT,
      stdio: 'pipe',
    },
  );
  server = spawn(NATS_SERVER, ['-c', path.join(dir, 'nats-server.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.on('data', (d) => (serverLog += String(d)));
  server.stderr?.on('data', (d) => (serverLog += String(d)));
  await waitForPort(port);
});

afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => undefined);
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server?.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('generated files', () => {
  it('writes the config and credentials readable only by their owner', () => {
    for (const f of [path.join(dir, 'nats-server.conf'), credFile('dispatch'), credFile('relay')])
      expect(fs.statSync(f).mode & 0o077).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'nats-server.conf'), 'utf8')).not.toMatch(/password: ""/);
  });

  it('(f) --check passes for the checked-in permissions file', () => {
    const out = execFileSync('node', [path.join(ROOT, 'tools/nats-auth-config.js'), '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: 'pipe',
    });
    expect(out).toContain('up to date');
  });
});

describe('nats-server 2.9 with the generated authorization', () => {
  it('(a) refuses a client without credentials, or with a wrong password', async () => {
    await expect(connect({ servers: url, reconnect: false })).rejects.toThrow(/authorization/i);
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ user: 'dispatch', password: 'wrong' }), { mode: 0o600 });
    await expect(
      connect({ servers: url, reconnect: false, ...natsAuthFor({ AEVO_NATS_CREDENTIALS_FILE: bad }, 'dispatch') }),
    ).rejects.toThrow(/authorization/i);
  });

  it('(c) lets the relay create the stream, publish events to it and read them back', async () => {
    const nc = await connectAs('relay');
    const jsm = await jetstreamManager(nc);
    await ensureEventStream(jsm, STREAM, PREFIX);
    // What the relay does at start: update the deny flags, read the last message.
    const info = await jsm.streams.info(STREAM);
    await jsm.streams.update(STREAM, { ...info.config, deny_delete: true, deny_purge: true });
    const js = jetstream(nc);
    for (let i = 1; i <= 3; i++) {
      const ack = await js.publish(eventSubject(PREFIX, 'c1', 'JobRequested'), jobRequested('c1', i), {
        msgID: `e${i}`,
      });
      expect(ack.stream).toBe(STREAM);
    }
    const ack = await js.publish(eventSubject(PREFIX, 'c1', 'JobSucceeded'), jobRequested('c1', 4), { msgID: 'e4' });
    const last = await jsm.streams.getMessage(STREAM, { seq: ack.seq });
    expect(last?.subject).toBe(eventSubject(PREFIX, 'c1', 'JobSucceeded'));
  });

  it(
    '(b) keeps a service from publishing events, ' + 'sending commands it is not granted, or deleting the stream',
    async () => {
      const nc = await connectAs('dispatch');
      await expectPublishRefused(nc, eventSubject(PREFIX, 'c1', 'JobRequested'));
      await expectPublishRefused(nc, commandSubject(PREFIX, 'StartCampaign'));
      await expectRequestRefused(nc, `$JS.API.STREAM.DELETE.${STREAM}`);
      await expectRequestRefused(nc, `$JS.API.STREAM.PURGE.${STREAM}`);
      await expectRequestRefused(
        nc,
        `$JS.API.STREAM.UPDATE.${STREAM}`,
        JSON.stringify({ name: STREAM, subjects: ['x.>'] }),
      );
      // Its connection still works, and the stream is intact.
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(STREAM);
      expect(info.state.messages).toBe(4);
      expect(info.config.subjects).toEqual([`${PREFIX}.evt.>`]);
    },
  );

  it("(d) lets a service create, update and consume its own durable and ack, but not another service's", async () => {
    const nc = await connectAs('dispatch');
    const jsm: JetStreamManager = await jetstreamManager(nc);
    await ensureDurableConsumer(jsm, STREAM, spec('dispatch', 'JobRequested'));
    await ensureDurableConsumer(jsm, STREAM, spec('dispatch', 'JobRequested', { ackWaitMs: 20_000 })); // update path
    expect((await jsm.consumers.info(STREAM, consumerName('dispatch', 'JobRequested'))).config.ack_wait).toBe(
      20_000 * 1_000_000,
    );

    const consumer = await jetstream(nc).consumers.get(STREAM, consumerName('dispatch', 'JobRequested'));
    const iter = await consumer.consume({ max_messages: 10 });
    const seen: number[] = [];
    for await (const m of iter) {
      m.working();
      await m.ackAck({ timeout: 5000 });
      seen.push((m.json() as { n: number }).n);
      if (seen.length === 3) break;
    }
    await iter.close();
    expect(seen).toEqual([1, 2, 3]);
    expect((await jsm.consumers.info(STREAM, consumerName('dispatch', 'JobRequested'))).num_ack_pending).toBe(0);

    // Its own durable name, but pointed at other events: the create subject pins the filter.
    await expect(
      ensureDurableConsumer(jsm, STREAM, {
        ...spec('dispatch', 'JobRequested'),
        durable: consumerName('dispatch', 'JobSucceeded'),
        filterSubject: eventTypeFilter(PREFIX, 'JobSucceeded'),
      }),
    ).rejects.toThrow(/permissions violation/i);

    // Another service's durable.
    const evaluation = await connectAs('evaluation');
    await ensureDurableConsumer(await jetstreamManager(evaluation), STREAM, spec('evaluation', 'JobSucceeded'));
    const other = consumerName('evaluation', 'JobSucceeded');
    await expectRequestRefused(nc, `$JS.API.CONSUMER.INFO.${STREAM}.${other}`);
    await expectRequestRefused(
      nc,
      `$JS.API.CONSUMER.MSG.NEXT.${STREAM}.${other}`,
      JSON.stringify({ batch: 1, expires: 1_000_000_000 }),
    );
    await expectRequestRefused(nc, `$JS.API.CONSUMER.DELETE.${STREAM}.${other}`);
    await expectPublishRefused(nc, `$JS.ACK.${STREAM}.${other}.1.1.1.1.1.0`);
    // The other service still reads it.
    const mine = await (await jetstream(evaluation).consumers.get(STREAM, other)).next({ expires: 5000 });
    expect((mine?.json() as { n: number }).n).toBe(4);
    mine?.ack();
  });

  it("lets the CLI audit the stream with an ordered consumer, but not pull from a service's durable", async () => {
    const nc = await connectAs('cli');
    const iter = await (await jetstream(nc).consumers.get(STREAM)).consume({ max_messages: 100 });
    let n = 0;
    for await (const _ of iter) if (++n === 4) break;
    await iter.close();
    expect(n).toBe(4);
    await expectRequestRefused(
      nc,
      `$JS.API.CONSUMER.MSG.NEXT.${STREAM}.${consumerName('dispatch', 'JobRequested')}`,
      JSON.stringify({ batch: 1, expires: 1_000_000_000 }),
    );
    await expectRequestRefused(nc, `$JS.API.CONSUMER.DELETE.${STREAM}.${consumerName('dispatch', 'JobRequested')}`);
  });

  it('(e) carries a command from an allowed caller to its handler and the reply back', async () => {
    const orchestrator = await connectAs('orchestrator');
    const sub = orchestrator.subscribe(commandSubject(PREFIX, 'StartCampaign'), { queue: 'orchestrator' });
    void (async () => {
      for await (const m of sub) {
        const { commandId } = m.json<{ commandId: string }>();
        m.respond(JSON.stringify(okReply(commandId, { handledBy: 'orchestrator' })));
      }
    })();
    await orchestrator.flush();

    const cli = CommandClient.on(await connectAs('cli'), { subjectPrefix: PREFIX, issuedBy: 'cli' });
    const reply = await cli.send('StartCampaign', { anything: true }, { timeoutMs: 5000 });
    expect(reply).toMatchObject({ ok: true, result: { handledBy: 'orchestrator' } });

    // A service that may not send it.
    const evaluation = await connectAs('evaluation');
    await expectRequestRefused(evaluation, commandSubject(PREFIX, 'StartCampaign'), '{}');
    // A service may not take another's commands.
    const violation = nextViolation(orchestrator);
    orchestrator.subscribe(commandSubject(PREFIX, 'CancelJob'), { queue: 'orchestrator' });
    await orchestrator.flush().catch(() => undefined);
    expect(await violation).toMatch(/permissions violation.*subscription/i);
    sub.unsubscribe();
  });

  it(
    'lets a user with nothing to publish publish nothing ' + '(an empty allow list would mean everything on 2.9)',
    async () => {
      const nc = await connectAs('api');
      await expectPublishRefused(nc, commandSubject(PREFIX, 'StartCampaign'));
      await expectRequestRefused(nc, '$JS.API.INFO');
    },
  );

  it('lets a compute-cluster service ask the store gateway, and refuses the store port to anyone else', async () => {
    const gateway = await connectAs('store-gateway');
    const served = gateway.subscribe(`${PREFIX}.store.headPosition`, {
      queue: 'store-gateway',
      callback: (_err, msg) => void msg.respond(JSON.stringify({ ok: true, value: 7 })),
    });
    await gateway.flush();
    const worker = await connectAs('worker');
    const answer = await worker.request(`${PREFIX}.store.headPosition`, '{}', { timeout: 5000 });
    expect(JSON.parse(new TextDecoder().decode(answer.data))).toEqual({ ok: true, value: 7 });
    // The orchestrator lives beside the database: it has no business with the gateway, nor may it announce heads.
    await expectRequestRefused(await connectAs('orchestrator'), `${PREFIX}.store.headPosition`, '{}');
    await expectPublishRefused(worker, `${PREFIX}.store.head`);
    // The gateway answers; it cannot publish events.
    await expectPublishRefused(gateway, `${PREFIX}.evt.c1.JobRequested`);
    served.unsubscribe();
  });

  it("keeps a user from reading another user's inbox", async () => {
    const nc = await connectAs('dispatch');
    const violation = nextViolation(nc);
    nc.subscribe('_INBOX_orchestrator.>');
    await nc.flush().catch(() => undefined);
    expect(await violation).toMatch(/permissions violation/i);
  });
});
