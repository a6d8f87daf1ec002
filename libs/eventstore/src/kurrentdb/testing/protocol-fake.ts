/**
 * A protocol-level fake of KurrentDB's `event_store.client.streams.Streams` gRPC service, for tests and benches on
 * a machine where no KurrentDB server can be installed. It is NOT a server: no persistence, no cluster, no auth,
 * no projections, no scavenging. It is built from the service definition and message classes that
 * `@kurrent/kurrentdb-client` itself ships (generated/kurrentdb/protocols/v1/streams_*_pb.js) and is meant to be
 * driven through that real client (its JS gRPC path for append and subscribe, its native Rust bridge for reads).
 *
 * Modelled: stream revisions (0-based) and optimistic concurrency on append (revision, no_stream, stream_exists,
 * any; the WrongExpectedVersion response as streams.proto defines it, both its current and its 20.6 fields),
 * the server's event-id idempotency for a retried append, `$all` with commit/prepare positions that are byte
 * offsets (so they have gaps, and a system event is written first as a real server does), reads of a stream or
 * of `$all` forward/backward from a position with a count and a stream-name or event-type filter (prefix or
 * regex), subscriptions to a stream or to `$all` (confirmation, catch-up, caught-up, live, checkpoints for
 * filtered `$all` subscriptions). Not served: BatchAppend, Delete, Tombstone, ServerFeatures and Gossip — a call to
 * any of them is answered UNIMPLEMENTED by grpc-js, which is what makes the client fall back to plain Append.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { StreamsService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_grpc_pb';
import {
  AppendReq,
  AppendResp,
  ReadReq,
  ReadResp,
} from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_pb';
import {
  appendSuccess,
  checkpointResp,
  compare,
  emptyAppendSuccess,
  eventResp,
  positionOf,
  uuidText,
  wrongExpectedVersion,
  type FakeRecord,
} from './protocol-messages';

export type { FakeRecord } from './protocol-messages';

const ticksNow = () => BigInt(Date.now()) * 10_000n;
/** Readers page `$all`/stream reads; a real server batches too. */
const MAX_U64 = (1n << 64n) - 1n;

type Filter = { on: 'stream' | 'type'; test(value: string): boolean; checkpointEvery: number } | null;

interface LiveSubscriber {
  deliver(r: FakeRecord): void;
  /** Ends the call with a gRPC status, as a server that drops a subscriber does. */
  drop(code: grpc.status, details: string): void;
}

export interface KurrentDbProtocolFakeStats {
  appends: number;
  reads: number;
  subscriptions: number;
}

export class KurrentDbProtocolFake {
  private readonly log: FakeRecord[] = [];
  private readonly streams = new Map<string, FakeRecord[]>();
  /** Next byte offset in the fake transaction log. */
  private offset = 0n;
  private readonly live = new Set<LiveSubscriber>();
  readonly stats: KurrentDbProtocolFakeStats = { appends: 0, reads: 0, subscriptions: 0 };

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
  ) {}

  /** Starts on 127.0.0.1 (port 0: any free port). */
  static async start(port = 0): Promise<KurrentDbProtocolFake> {
    const server = new grpc.Server();
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const fake = new KurrentDbProtocolFake(server, bound);
    server.addService(StreamsService, {
      append: fake.append.bind(fake) as grpc.handleClientStreamingCall<AppendReq, AppendResp>,
      read: fake.read.bind(fake) as grpc.handleServerStreamingCall<ReadReq, ReadResp>,
    } as unknown as grpc.UntypedServiceImplementation);
    // As a real node does on start, the first record of the log is a system event: `$all` never starts at 0 for us.
    fake.write('$epochs', [
      {
        id: randomUUID(),
        type: '$epoch-information',
        contentType: 'application/json',
        data: Buffer.from('{}'),
        customMetadata: new Uint8Array(),
      },
    ]);
    return fake;
  }

  /** The connection string the real client takes. */
  get connectionString(): string {
    return `kurrentdb://127.0.0.1:${this.port}?tls=false`;
  }

  /** Every record of the log, system events included (for tests that inspect what was written). */
  records(): readonly FakeRecord[] {
    return this.log;
  }

  /** Ends every live subscription with UNAVAILABLE (a node restarting or a network cut, as the client sees it). */
  dropSubscriptions(): number {
    const all = [...this.live];
    for (const s of all) s.drop(grpc.status.UNAVAILABLE, 'subscription dropped by the protocol fake');
    return all.length;
  }

  /**
   * Changes the stored log behind the API, as someone with the server's files could (KurrentDB's API has no update,
   * and a soft delete leaves a trace): for tests that the hash chain notices. Returns false when the id is not stored.
   */
  readonly storage = {
    rewriteData: (eventId: string, data: Uint8Array): boolean => {
      const r = this.log.find((x) => x.id === eventId);
      if (!r) return false;
      r.data = data;
      return true;
    },
    removeEvent: (eventId: string): boolean => {
      const at = this.log.findIndex((x) => x.id === eventId);
      if (at < 0) return false;
      const [r] = this.log.splice(at, 1);
      const events = this.streams.get(r.stream)!;
      events.splice(events.indexOf(r), 1);
      return true;
    },
  };

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
  }

  private write(
    stream: string,
    proposed: Array<Pick<FakeRecord, 'id' | 'type' | 'contentType' | 'data' | 'customMetadata'>>,
  ): FakeRecord[] {
    const existing = this.streams.get(stream) ?? [];
    const created = ticksNow();
    const records: FakeRecord[] = [];
    for (const p of proposed) {
      // Prepare positions are byte offsets: each record's size moves the next one on, as in a transaction file.
      const prepare = this.offset;
      this.offset += BigInt(120 + stream.length + p.type.length + p.data.length + p.customMetadata.length);
      records.push({ ...p, stream, revision: existing.length + records.length, created, prepare, commit: 0n });
    }
    // One commit record per transaction: all its events share the commit position, after their prepares.
    const commit = this.offset;
    this.offset += 64n;
    for (const r of records) {
      r.commit = commit;
      existing.push(r);
      this.log.push(r);
    }
    this.streams.set(stream, existing);
    for (const r of records) for (const s of this.live) s.deliver(r);
    return records;
  }

  private append(
    call: grpc.ServerReadableStream<AppendReq, AppendResp>,
    callback: grpc.sendUnaryData<AppendResp>,
  ): void {
    let options: AppendReq.Options | undefined;
    const proposed: Array<Pick<FakeRecord, 'id' | 'type' | 'contentType' | 'data' | 'customMetadata'>> = [];
    let failed = false;
    call.on('data', (req: AppendReq) => {
      if (failed) return;
      if (req.hasOptions()) {
        options = req.getOptions();
        return;
      }
      const m = req.getProposedMessage();
      if (!m || !options) {
        failed = true;
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'the first AppendReq must carry options' });
        return;
      }
      const meta = m.getMetadataMap();
      const type = meta.get('type');
      const contentType = meta.get('content-type');
      if (!type || !contentType) {
        failed = true;
        callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: 'proposed message metadata must carry "type" and "content-type"',
        });
        return;
      }
      proposed.push({
        id: uuidText(m.getId()),
        type,
        contentType,
        data: m.getData_asU8(),
        customMetadata: m.getCustomMetadata_asU8(),
      });
    });
    call.on('error', () => undefined);
    call.on('end', () => {
      if (failed) return;
      if (!options) return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'no options sent' });
      this.stats.appends++;
      const stream = Buffer.from(options.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
      const existing = this.streams.get(stream);
      const current = existing && existing.length > 0 ? existing.length - 1 : null;
      const resp = new AppendResp();
      const Case = AppendReq.Options.ExpectedStreamRevisionCase;
      const expectedCase = options.getExpectedStreamRevisionCase();
      const expectedRevision = expectedCase === Case.REVISION ? Number(options.getRevision()) : null;
      const ok =
        expectedCase === Case.ANY ||
        (expectedCase === Case.NO_STREAM && current === null) ||
        (expectedCase === Case.STREAM_EXISTS && current !== null) ||
        (expectedCase === Case.REVISION && current === expectedRevision);
      // The server's idempotency: the same event ids re-sent right after the expected revision succeed without a write.
      const after = expectedCase === Case.NO_STREAM ? -1 : expectedRevision;
      const repeat =
        existing && proposed.length > 0 && (after !== null || expectedCase === Case.ANY)
          ? this.alreadyWritten(existing, after, proposed)
          : null;
      if (repeat) {
        resp.setSuccess(appendSuccess(repeat));
        return callback(null, resp);
      }
      if (!ok) {
        resp.setWrongExpectedVersion(wrongExpectedVersion(current, expectedCase, expectedRevision));
        return callback(null, resp);
      }
      if (proposed.length === 0) {
        resp.setSuccess(emptyAppendSuccess(current));
        return callback(null, resp);
      }
      resp.setSuccess(appendSuccess(this.write(stream, proposed)));
      callback(null, resp);
    });
  }

  /**
   * The records `proposed` already are, when they were written as one batch right after revision `after` (any:
   * anywhere).
   */
  private alreadyWritten(
    existing: FakeRecord[],
    after: number | null,
    proposed: Array<{ id: string }>,
  ): FakeRecord[] | null {
    const start = after === null ? existing.findIndex((r) => r.id === proposed[0].id) : after + 1;
    if (start < 0 || start + proposed.length > existing.length) return null;
    const slice = existing.slice(start, start + proposed.length);
    return slice.every((r, i) => r.id === proposed[i].id) ? slice : null;
  }

  private read(call: grpc.ServerWritableStream<ReadReq, ReadResp>): void {
    const options = call.request.getOptions();
    if (!options) {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'ReadReq without options' });
      return;
    }
    const structuredIds = options.getUuidOption()?.hasStructured() ?? false;
    const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
    const filter = this.filterOf(options);
    const send = (r: FakeRecord) => call.write(eventResp(r, structuredIds));
    if (options.hasSubscription()) return this.subscribe(call, options, filter, send);
    this.stats.reads++;
    const count = options.hasCount() ? BigInt(options.getCount()) : MAX_U64;
    let candidates: FakeRecord[];
    if (options.hasStream()) {
      const so = options.getStream()!;
      const name = Buffer.from(so.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
      const events = this.streams.get(name);
      if (!events || events.length === 0) {
        const nf = new ReadResp.StreamNotFound();
        nf.setStreamIdentifier(so.getStreamIdentifier());
        const resp = new ReadResp();
        resp.setStreamNotFound(nf);
        call.write(resp);
        call.end();
        return;
      }
      if (backwards) {
        const from = so.hasEnd() ? events.length - 1 : so.hasStart() ? -1 : Number(so.getRevision());
        candidates = events.slice(0, Math.min(from, events.length - 1) + 1).reverse();
      } else {
        const from = so.hasStart() ? 0 : so.hasEnd() ? events.length : Number(so.getRevision());
        candidates = events.slice(from);
      }
    } else {
      const ao = options.getAll()!;
      if (backwards) {
        const before = ao.hasEnd()
          ? null
          : ao.hasStart()
            ? { commit: -1n, prepare: -1n }
            : positionOf(ao.getPosition()!);
        candidates = this.log.filter((r) => before === null || compare(r, before) < 0).reverse();
      } else {
        const from = ao.hasStart()
          ? { commit: 0n, prepare: 0n }
          : ao.hasEnd()
            ? { commit: MAX_U64, prepare: MAX_U64 }
            : positionOf(ao.getPosition()!);
        candidates = this.log.filter((r) => compare(r, from) >= 0);
      }
      if (filter) candidates = candidates.filter((r) => filter.test(filter.on === 'stream' ? r.stream : r.type));
    }
    let sent = 0n;
    for (const r of candidates) {
      if (sent >= count) break;
      send(r);
      sent++;
    }
    call.end();
  }

  private subscribe(
    call: grpc.ServerWritableStream<ReadReq, ReadResp>,
    options: ReadReq.Options,
    filter: Filter,
    send: (r: FakeRecord) => void,
  ): void {
    this.stats.subscriptions++;
    const confirmation = new ReadResp();
    const conf = new ReadResp.SubscriptionConfirmation();
    conf.setSubscriptionId(randomUUID());
    confirmation.setConfirmation(conf);
    call.write(confirmation);
    let matches: (r: FakeRecord) => boolean;
    let catchUp: FakeRecord[];
    if (options.hasStream()) {
      const so = options.getStream()!;
      const name = Buffer.from(so.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
      const events = this.streams.get(name) ?? [];
      matches = (r) => r.stream === name;
      // Subscriptions start after the given revision (exclusive), unlike reads.
      catchUp = so.hasStart() ? [...events] : so.hasEnd() ? [] : events.slice(Number(so.getRevision()) + 1);
    } else {
      const ao = options.getAll()!;
      matches = filter ? (r) => filter.test(filter.on === 'stream' ? r.stream : r.type) : () => true;
      const after = ao.hasStart()
        ? null
        : ao.hasEnd()
          ? { commit: MAX_U64, prepare: MAX_U64 }
          : positionOf(ao.getPosition()!);
      catchUp = this.log.filter((r) => after === null || compare(r, after) > 0);
    }
    let searched = 0;
    const checkpointEvery = filter?.checkpointEvery ?? 0;
    const visit = (r: FakeRecord) => {
      if (matches(r)) send(r);
      // Filtered `$all` subscriptions report how far the search got, so a client can checkpoint past gaps.
      if (checkpointEvery > 0 && ++searched % checkpointEvery === 0) call.write(checkpointResp(r));
    };
    for (const r of catchUp) visit(r);
    const caughtUp = new ReadResp();
    caughtUp.setCaughtUp(new ReadResp.CaughtUp());
    call.write(caughtUp);
    const subscriber: LiveSubscriber = {
      deliver: visit,
      drop: (code, details) => {
        this.live.delete(subscriber);
        // grpc-js ends a server-streaming call with a status when 'error' is emitted on it.
        call.emit('error', { code, details });
      },
    };
    this.live.add(subscriber);
    const stop = () => this.live.delete(subscriber);
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
  }

  private filterOf(options: ReadReq.Options): Filter {
    if (!options.hasFilter()) return null;
    const f = options.getFilter()!;
    const on = f.hasStreamIdentifier() ? 'stream' : 'type';
    const expr = (on === 'stream' ? f.getStreamIdentifier() : f.getEventType())!;
    const prefixes = expr.getPrefixList();
    const regex = expr.getRegex() ? new RegExp(expr.getRegex()) : null;
    const window = f.hasMax() ? f.getMax() : 32;
    return {
      on,
      test: (v) =>
        (prefixes.length > 0 ? prefixes.some((p) => v.startsWith(p)) : true) && (regex ? regex.test(v) : true),
      checkpointEvery: Math.max(1, window * Math.max(1, f.getCheckpointintervalmultiplier())),
    };
  }
}
