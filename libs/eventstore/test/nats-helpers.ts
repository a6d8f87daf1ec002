import { jetstream, jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { CampaignPaused, createEvent } from '@aevo/contracts';
import type { EventStore } from '../src';

export interface RelayedMessage {
  seq: number;
  subject: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export const natsConnect = (url: string): Promise<NatsConnection> => connect({ servers: url, name: 'eventstore-test' });

export async function streamInfo(nc: NatsConnection, stream: string): Promise<StreamInfo | null> {
  const jsm = await jetstreamManager(nc);
  return jsm.streams.info(stream).catch(() => null);
}

export async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  return (await streamInfo(nc, stream))?.state.messages ?? 0;
}

/** Every message of the stream, in stream order, through an ordered consumer. */
export async function readStreamMessages(nc: NatsConnection, stream: string): Promise<RelayedMessage[]> {
  const total = await streamCount(nc, stream);
  const out: RelayedMessage[] = [];
  if (total === 0) return out;
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream);
  const messages = await consumer.consume({ max_messages: 1000 });
  for await (const m of messages) {
    const headers: Record<string, string> = {};
    for (const [k, v] of m.headers ?? []) headers[k] = v[0];
    out.push({ seq: m.seq, subject: m.subject, headers, body: m.json<Record<string, unknown>>() });
    if (out.length >= total) break;
  }
  await messages.close();
  return out;
}

export async function deleteStream(url: string, stream: string): Promise<void> {
  const nc = await natsConnect(url);
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** Appends `n` valid events over `streams` streams of `campaigns` campaigns, one append each. */
export async function appendSome(
  store: EventStore,
  n: number,
  tag: string,
  campaigns = ['camp-a', 'camp-b'],
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const campaignId = campaigns[i % campaigns.length];
    const streamId = `campaign-${campaignId}-${tag}`;
    await store.append(streamId, 'any', [
      createEvent(CampaignPaused, { reason: `${tag}-${i}` }, { campaignId, streamId, source: 'orchestrator' }),
    ]);
  }
}
