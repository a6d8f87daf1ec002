import {
  AckPolicy,
  DeliverPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import { eventsWildcard } from './subjects';

const nanos = (ms: number) => ms * 1_000_000;

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  return (
    e?.name === 'StreamNotFoundError' ||
    e?.name === 'ConsumerNotFoundError' ||
    e?.code === 404 ||
    /not found/i.test(String(e?.message ?? ''))
  );
}

/**
 * Makes sure the event stream exists and captures `<prefix>.evt.>`. It is created (file storage, deny delete and
 * purge, no age limit) only when missing: an existing stream, possibly created by the outbox relay, is never
 * reconfigured, only checked.
 */
export async function ensureEventStream(jsm: JetStreamManager, stream: string, prefix: string): Promise<StreamInfo> {
  const wanted = eventsWildcard(prefix);
  try {
    const info = await jsm.streams.info(stream);
    if (!info.config.subjects?.includes(wanted))
      throw new Error(
        `stream ${stream} exists but does not capture ${wanted} (subjects: ${(info.config.subjects ?? []).join(', ')})`,
      );
    return info;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    return await jsm.streams.add({
      name: stream,
      subjects: [wanted],
      storage: StorageType.File,
      deny_delete: true,
      deny_purge: true,
      max_age: 0,
      duplicate_window: nanos(120_000),
    });
  } catch (err) {
    // Another replica created it first.
    const info = await jsm.streams.info(stream).catch(() => null);
    if (info) return info;
    throw err;
  }
}

export interface ConsumerSpec {
  durable: string;
  filterSubject: string;
  ackWaitMs: number;
  /** Server-side max_deliver. */
  maxDeliver: number;
  deliverPolicy: 'all' | 'new';
  maxAckPending: number;
  description?: string;
}

/** Creates the durable pull consumer, or updates the fields that may change (ack wait, max deliver, …). */
export async function ensureDurableConsumer(jsm: JetStreamManager, stream: string, spec: ConsumerSpec): Promise<void> {
  let existing: ConsumerConfig | null = null;
  try {
    existing = (await jsm.consumers.info(stream, spec.durable)).config;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (existing) {
    if (existing.filter_subject !== spec.filterSubject)
      throw new Error(
        `consumer ${spec.durable} on ${stream} filters ${existing.filter_subject ?? '(none)'}, ` +
          `expected ${spec.filterSubject}; delete it to re-provision`,
      );
    if (
      existing.ack_wait !== nanos(spec.ackWaitMs) ||
      existing.max_deliver !== spec.maxDeliver ||
      existing.max_ack_pending !== spec.maxAckPending
    ) {
      await jsm.consumers.update(stream, spec.durable, {
        ack_wait: nanos(spec.ackWaitMs),
        max_deliver: spec.maxDeliver,
        max_ack_pending: spec.maxAckPending,
      });
    }
    return;
  }
  try {
    await jsm.consumers.add(stream, {
      durable_name: spec.durable,
      description: spec.description,
      filter_subject: spec.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: spec.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
      ack_wait: nanos(spec.ackWaitMs),
      max_deliver: spec.maxDeliver,
      max_ack_pending: spec.maxAckPending,
    });
  } catch (err) {
    // A replica starting at the same time may have created it with the same config.
    const info = await jsm.consumers.info(stream, spec.durable).catch(() => null);
    if (!info) throw err;
  }
}
