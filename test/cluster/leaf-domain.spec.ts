// Across clusters (ARCHITECTURE.md): a control cluster's NATS hub (JetStream domain `hub`) and a compute cluster's
// leaf node (domain `c1`), real nats-server processes on loopback. Events reach the compute domain by a stream that
// sources the hub's; a durable consumer there reads them locally, once each, through a crash of the leaf and through
// the hub's absence; commands cross the leaf connection as core request/reply.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { headers, type NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { ensureDurableConsumer, ensureEventStream, eventSubject, eventTypeFilter } from '@aevo/messaging';
import { ensureSourcedEventStream, sourceStatus, type SourcedStreamSpec } from '../../libs/messaging/src/domains';
import { freePort, NatsProc, until } from './nats-procs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderHubConfig, renderLeafConfig } = require('../../tools/nats-leaf-config.js') as {
  renderHubConfig: (o: Record<string, unknown>) => string;
  renderLeafConfig: (o: Record<string, unknown>) => string;
};

jest.setTimeout(90_000);

const TYPE = 'JobRequested';
const prefix = `t${randomBytes(4).toString('hex')}`;
const stream = `EV_${randomBytes(4).toString('hex')}`;
const durable = `dispatch__${TYPE}`;
// The same stream name in both domains: the compute domain's is another stream (the generated permissions, which
// name the stream, then hold on the leaf unchanged).
const spec: SourcedStreamSpec = { stream, hubDomain: 'hub', hubStream: stream, prefix };

let dir = '';
let hub: NatsProc | null = null;
let leaf: NatsProc | null = null;
const conns = new Set<NatsConnection>();

async function client(proc: NatsProc): Promise<NatsConnection> {
  const nc = await connect({ servers: `127.0.0.1:${proc.port}`, maxReconnectAttempts: 0 });
  conns.add(nc);
  return nc;
}

async function close(nc: NatsConnection): Promise<void> {
  conns.delete(nc);
  await nc.close();
}

/** The leaf connection is up when a client of the leaf can reach the hub's JetStream API. */
async function linkUp(leafNc: NatsConnection): Promise<void> {
  await until(
    'the leaf connection to the hub',
    async () => (await (await jetstreamManager(leafNc, { domain: 'hub', timeout: 1000 })).getAccountInfo()).domain,
    20_000,
  );
}

let published = 0;
/** Publishes `n` events on the hub, every other one of type TYPE; returns the message ids of the TYPE ones. */
async function publishOnHub(hubNc: NatsConnection, n: number): Promise<string[]> {
  const js = jetstream(hubNc);
  const ids: string[] = [];
  for (let i = 0; i < n; i++, published++) {
    const type = published % 2 === 0 ? TYPE : 'JobSucceeded';
    const id = `evt-${published}`;
    const h = headers();
    h.set('Nats-Msg-Id', id);
    const ack = await js.publish(eventSubject(prefix, `camp${published % 3}`, type), JSON.stringify({ id }), {
      headers: h,
    });
    expect(ack.duplicate).toBe(false);
    if (type === TYPE) ids.push(id);
  }
  return ids;
}

/** Reads the durable until `want` messages arrived, acking each; then checks that nothing more is delivered. */
async function readDurable(leafNc: NatsConnection, want: number): Promise<string[]> {
  const consumer = await jetstream(leafNc).consumers.get(stream, durable);
  const ids: string[] = [];
  await until(
    `${want} messages on the leaf's durable`,
    async () => {
      const batch = await consumer.fetch({ max_messages: want - ids.length, expires: 1000 });
      for await (const m of batch) {
        ids.push(m.headers?.get('Nats-Msg-Id') ?? `(no id at stream seq ${m.seq})`);
        await m.ackAck();
      }
      return ids.length >= want ? true : undefined;
    },
    40_000,
  );
  const extra = await consumer.fetch({ max_messages: 10, expires: 1500 });
  for await (const m of extra) ids.push(`unexpected ${m.headers?.get('Nats-Msg-Id')}`);
  return ids;
}

/** Waits until the leaf's copy holds everything the hub's stream holds. */
async function copyCaughtUp(leafJsm: JetStreamManager, hubCount: number): Promise<void> {
  await until(
    `the compute copy to hold ${hubCount} messages`,
    async () => {
      const info = await leafJsm.streams.info(stream);
      return info.state.messages === hubCount && sourceStatus(info, stream)?.lag === 0 ? true : undefined;
    },
    40_000,
  );
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-cluster-'));
  const [hubPort, leafnodesPort, leafPort] = [await freePort(), await freePort(), await freePort()];
  for (const d of ['hub', 'c1']) fs.mkdirSync(path.join(dir, d));
  const hubConf = path.join(dir, 'hub', 'nats-server.conf');
  const leafConf = path.join(dir, 'c1', 'nats-server.conf');
  const leafCredentials = { user: 'leaf-c1', password: randomBytes(24).toString('base64url') };
  fs.writeFileSync(
    hubConf,
    renderHubConfig({ port: hubPort, leafPort: leafnodesPort, storeDir: path.join(dir, 'hub', 'js'), leafCredentials }),
  );
  fs.writeFileSync(
    leafConf,
    renderLeafConfig({
      domain: 'c1',
      port: leafPort,
      hub: `nats-leaf://127.0.0.1:${leafnodesPort}`,
      storeDir: path.join(dir, 'c1', 'js'),
      leafCredentials,
    }),
  );
  hub = new NatsProc('hub', hubConf, hubPort);
  leaf = new NatsProc('leaf c1', leafConf, leafPort);
  await hub.start();
  await leaf.start();
});

afterAll(async () => {
  for (const nc of conns) await nc.close().catch(() => undefined);
  await leaf?.stop('SIGKILL');
  await hub?.stop('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a compute cluster as a NATS leaf node with its own JetStream domain', () => {
  let expected: string[] = [];

  it('sources the hub stream into the compute domain: a local durable reads each event once, in order', async () => {
    const hubNc = await client(hub!);
    const leafNc = await client(leaf!);
    await linkUp(leafNc);
    const hubJsm = await jetstreamManager(hubNc);
    await ensureEventStream(hubJsm, stream, prefix);
    expected = await publishOnHub(hubNc, 20);

    const leafJsm = await jetstreamManager(leafNc);
    expect((await leafJsm.getAccountInfo()).domain).toBe('c1');
    await ensureSourcedEventStream(leafJsm, spec);
    await ensureSourcedEventStream(leafJsm, spec); // checked, not reconfigured
    await copyCaughtUp(leafJsm, 20);
    // Two streams of one name: the hub's captures the subjects, the compute one only sources it.
    expect((await hubJsm.streams.info(stream)).config.subjects).toEqual([`${prefix}.evt.>`]);
    const local = await leafJsm.streams.info(stream);
    expect(local.config.subjects ?? []).toEqual([]);
    expect(local.config.sources?.[0].external?.api).toBe('$JS.hub.API');

    await ensureDurableConsumer(leafJsm, stream, {
      durable,
      filterSubject: eventTypeFilter(prefix, TYPE),
      ackWaitMs: 30_000,
      maxDeliver: 5,
      deliverPolicy: 'all',
      maxAckPending: 100,
    });
    // The consumer lives in the compute domain, not on the hub.
    await expect(hubJsm.consumers.info(stream, durable)).rejects.toThrow(/not found/i);
    expect(await readDurable(leafNc, expected.length)).toEqual(expected);
    await close(hubNc);
    await close(leafNc);
  });

  it('catches up after a crash of the leaf without loss or duplicates', async () => {
    await leaf!.stop('SIGKILL');
    const hubNc = await client(hub!);
    const more = await publishOnHub(hubNc, 15);
    await leaf!.start(); // same config, same store directory
    const leafNc = await client(leaf!);
    await linkUp(leafNc);
    await copyCaughtUp(await jetstreamManager(leafNc), 35);
    expect(await readDurable(leafNc, more.length)).toEqual(more);
    expected = [...expected, ...more];
    await close(hubNc);
    await close(leafNc);
  });

  it('keeps serving its consumers while the hub is away, and catches up when it returns', async () => {
    const hubNc = await client(hub!);
    const copied = await publishOnHub(hubNc, 10);
    const leafNc = await client(leaf!);
    const leafJsm = await jetstreamManager(leafNc);
    await copyCaughtUp(leafJsm, 45);
    await close(hubNc);
    await hub!.stop('SIGKILL');
    // The link is down, the compute cluster's consumer still reads what was copied.
    expect(await readDurable(leafNc, copied.length)).toEqual(copied);
    await hub!.start();
    const hubAgain = await client(hub!);
    await linkUp(leafNc);
    const later = await publishOnHub(hubAgain, 10);
    await copyCaughtUp(leafJsm, 55);
    expect(await readDurable(leafNc, later.length)).toEqual(later);
    expected = [...expected, ...copied, ...later];
    // Every TYPE event published, each exactly once in the copy.
    expect(new Set(expected).size).toBe(expected.length);
    expect((await leafJsm.consumers.info(stream, durable)).num_pending).toBe(0);
    await close(hubAgain);
    await close(leafNc);
  });

  it('routes commands across the leaf connection, both ways', async () => {
    const hubNc = await client(hub!);
    const leafNc = await client(leaf!);
    await linkUp(leafNc);
    const answer = (where: string) => (err: Error | null, m: { string(): string; respond(d: string): boolean }) => {
      if (!err) m.respond(JSON.stringify({ ok: true, result: { where, got: m.string() } }));
    };
    hubNc.subscribe(`${prefix}.cmd.StartCampaign`, { queue: 'orchestrator', callback: answer('hub') });
    leafNc.subscribe(`${prefix}.cmd.CancelJob`, { queue: 'dispatch', callback: answer('c1') });
    await hubNc.flush();
    await leafNc.flush();
    // Interest crosses the link asynchronously: until it has, a request finds no responders.
    const toHub = await until(
      'a command from the compute cluster answered by the control cluster',
      async () => (await leafNc.request(`${prefix}.cmd.StartCampaign`, 'from c1', { timeout: 1000 })).json(),
      15_000,
    );
    expect(toHub).toEqual({ ok: true, result: { where: 'hub', got: 'from c1' } });
    const toLeaf = await until(
      'a command from the control cluster answered by the compute cluster',
      async () => (await hubNc.request(`${prefix}.cmd.CancelJob`, 'from hub', { timeout: 1000 })).json(),
      15_000,
    );
    expect(toLeaf).toEqual({ ok: true, result: { where: 'c1', got: 'from hub' } });
    await close(hubNc);
    await close(leafNc);
  });
});
