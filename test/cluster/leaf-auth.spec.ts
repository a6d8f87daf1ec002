// Across clusters with the generated NATS users (tools/nats-auth-config.js's declaration) on both sides of the leaf:
// the compute-domain stream keeps the hub stream's name, so each compute service, authenticated as itself on its
// leaf server with its unchanged permissions, provisions and reads its durable locally; the relay publishes on the
// hub; a store client's request reaches the store gateway across the leaf; the leaf link itself needs a credential.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { headers, type NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  ensureDurableConsumer,
  ensureEventStream,
  eventSubject,
  eventTypeFilter,
  inboxPrefixFor,
  natsPermissions,
  NATS_USERS,
  randomNatsPassword,
  renderNatsAuthConfig,
} from '@aevo/messaging';
import { ensureSourcedEventStream } from '../../libs/messaging/src/domains';
import { freePort, NatsProc, until } from './nats-procs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderHubConfig, renderLeafConfig } = require('../../tools/nats-leaf-config.js') as {
  renderHubConfig: (o: Record<string, unknown>) => string;
  renderLeafConfig: (o: Record<string, unknown>) => string;
};

jest.setTimeout(60_000);

const prefix = `t${randomBytes(4).toString('hex')}`;
const stream = `EV_${randomBytes(4).toString('hex')}`;
const passwords: Record<string, string> = Object.fromEntries(NATS_USERS.map((u) => [u, randomNatsPassword()]));
let dir = '';
let hub: NatsProc | null = null;
let leaf: NatsProc | null = null;
let leafnodesPort = 0;
const conns = new Set<NatsConnection>();

async function as(user: string, proc: NatsProc): Promise<NatsConnection> {
  const nc = await connect({
    servers: `127.0.0.1:${proc.port}`,
    user,
    pass: passwords[user],
    inboxPrefix: inboxPrefixFor(user),
    maxReconnectAttempts: 0,
  });
  conns.add(nc);
  return nc;
}

function writeConfigs(leafCredentials: { user: string; password: string }): void {
  const include = '../auth/nats-server.conf';
  fs.writeFileSync(
    path.join(dir, 'hub', 'nats-server.conf'),
    renderHubConfig({
      port: hub!.port,
      leafPort: leafnodesPort,
      storeDir: path.join(dir, 'hub', 'js'),
      include,
      leafCredentials: { user: 'leaf-c1', password: 'the-hub-knows-this-one' },
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'c1', 'nats-server.conf'),
    renderLeafConfig({
      domain: 'c1',
      port: leaf!.port,
      hub: `nats-leaf://127.0.0.1:${leafnodesPort}`,
      storeDir: path.join(dir, 'c1', 'js'),
      include,
      leafCredentials,
    }),
  );
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-cluster-auth-'));
  for (const d of ['auth', 'hub', 'c1']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(
    path.join(dir, 'auth', 'nats-server.conf'),
    renderNatsAuthConfig(natsPermissions(prefix, stream), passwords, { storeDir: path.join(dir, 'unused') }),
    { mode: 0o600 },
  );
  leafnodesPort = await freePort();
  hub = new NatsProc('hub', path.join(dir, 'hub', 'nats-server.conf'), await freePort());
  leaf = new NatsProc('leaf c1', path.join(dir, 'c1', 'nats-server.conf'), await freePort());
});

afterAll(async () => {
  for (const nc of conns) await nc.close().catch(() => undefined);
  await leaf?.stop('SIGKILL');
  await hub?.stop('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a compute cluster with the generated users on both sides of the leaf', () => {
  it('refuses a leaf that presents a wrong credential', async () => {
    writeConfigs({ user: 'leaf-c1', password: 'wrong' });
    await hub!.start();
    await leaf!.start();
    await until(
      'the hub to refuse the leaf',
      async () => (/Leafnode connection closed: Authentication Failure/.test(hub!.log()) ? true : undefined),
      15_000,
    );
    expect(leaf!.log()).toMatch(/Leafnode Error 'Authorization Violation'/);
    await leaf!.stop('SIGKILL');
  });

  it('lets each compute service read its durable locally and reach the store gateway, as itself', async () => {
    writeConfigs({ user: 'leaf-c1', password: 'the-hub-knows-this-one' });
    await leaf!.start();
    // No wait for the link: the source, and dispatch's reads below, retry until it is up.

    // Control cluster: the relay provisions the hub stream and publishes.
    const relay = await as('relay', hub!);
    await ensureEventStream(await jetstreamManager(relay), stream, prefix);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const h = headers();
      h.set('Nats-Msg-Id', `evt-${i}`);
      const type = i % 2 === 0 ? 'JobRequested' : 'CandidateForked';
      await jetstream(relay).publish(eventSubject(prefix, 'camp', type), '{}', { headers: h });
      if (type === 'JobRequested') ids.push(`evt-${i}`);
    }

    // Compute cluster: dispatch, with its generated permissions, on its leaf server.
    const dispatch = await as('dispatch', leaf!);
    const jsm = await jetstreamManager(dispatch);
    expect((await jsm.getAccountInfo()).domain).toBe('c1');
    await ensureSourcedEventStream(jsm, { stream, hubDomain: 'hub', hubStream: stream, prefix });
    await ensureDurableConsumer(jsm, stream, {
      durable: 'dispatch__JobRequested',
      filterSubject: eventTypeFilter(prefix, 'JobRequested'),
      ackWaitMs: 30_000,
      maxDeliver: 5,
      deliverPolicy: 'all',
      maxAckPending: 100,
    });
    const consumer = await jetstream(dispatch).consumers.get(stream, 'dispatch__JobRequested');
    const got: string[] = [];
    await until(
      'dispatch to read its events on the leaf',
      async () => {
        for await (const m of await consumer.fetch({ max_messages: ids.length - got.length, expires: 1000 })) {
          got.push(m.headers?.get('Nats-Msg-Id') ?? '?');
          await m.ackAck();
        }
        return got.length >= ids.length ? true : undefined;
      },
      30_000,
    );
    expect(got).toEqual(ids);
    // Its permissions still bind it: another service's durable is not its to create.
    await expect(
      ensureDurableConsumer(jsm, stream, {
        durable: 'worker__CandidateForked',
        filterSubject: eventTypeFilter(prefix, 'CandidateForked'),
        ackWaitMs: 30_000,
        maxDeliver: 5,
        deliverPolicy: 'all',
        maxAckPending: 100,
      }),
    ).rejects.toThrow(/permission|timeout/i);

    // The event store port: worker (a store client) on the leaf, the store gateway on the hub.
    const gateway = await as('store-gateway', hub!);
    gateway.subscribe(`${prefix}.store.headPosition`, {
      queue: 'store-gateway',
      callback: (err, m) => {
        if (!err) m.respond(JSON.stringify({ ok: true, value: 42 }));
      },
    });
    await gateway.flush();
    const worker = await as('worker', leaf!);
    const answer = await until(
      'the store gateway to answer across the leaf',
      async () => (await worker.request(`${prefix}.store.headPosition`, '{}', { timeout: 1000 })).json(),
      15_000,
    );
    expect(answer).toEqual({ ok: true, value: 42 });
  });
});
