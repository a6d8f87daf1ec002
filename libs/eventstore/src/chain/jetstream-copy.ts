import { connect } from '@nats-io/transport-node';
import type { NatsAuthOptions } from '../relay/nats-credentials';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { EventStore } from '../port';
import { eventContentHash, type ChainFinding, type EnvelopeFields } from './chain';

export interface CopyReport {
  stream: string;
  /** Store positions compared (1..upTo). */
  upTo: number;
  messages: number;
  findings: ChainFinding[];
}

/**
 * Compares the JetStream copy of the log with the store, positions 1..upTo: the count, and per position the
 * event id and the content hash of the message body (the stored event JSON minus position and stream version)
 * against the hash the store recorded. Messages beyond upTo (the relay moved on) only count when they are beyond the
 * store's head as well: a tail cut off the store, which the chain alone cannot show. A stream is
 * append-only (deny_delete, deny_purge), so a mismatch means the copy or the store was changed out of band.
 */
export async function compareJetStreamCopy(
  store: EventStore,
  opts: { natsUrl: string; stream: string; upTo: number; timeoutMs?: number; natsAuth?: NatsAuthOptions },
): Promise<CopyReport> {
  if (!store.readChainLinks) throw new Error('this store keeps no hash chain to compare with');
  const findings: ChainFinding[] = [];
  const seen = new Map<number, { id: string; hash: string; seq: number }>();
  const nc = await connect({ servers: opts.natsUrl, name: 'aevo-audit', ...(opts.natsAuth ?? {}) });
  let messages = 0;
  let beyond = 0;
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(opts.stream);
    const total = info.state.messages;
    if (total > 0) {
      const consumer = await jetstream(nc).consumers.get(opts.stream);
      const iter = await consumer.consume({ max_messages: 1000 });
      const timer = setTimeout(() => void iter.close(), opts.timeoutMs ?? 60_000);
      try {
        for await (const m of iter) {
          messages++;
          let body: (EnvelopeFields & { position?: unknown }) | null = null;
          try {
            body = m.json<EnvelopeFields & { position?: unknown }>();
          } catch {
            findings.push({ position: 0, reason: `JetStream message seq ${m.seq} is not JSON` });
          }
          if (body) {
            const p = Number(body.position);
            if (!Number.isInteger(p) || p < 1)
              findings.push({ position: 0, reason: `JetStream message seq ${m.seq} has no position` });
            else if (p > opts.upTo) beyond = Math.max(beyond, p);
            else {
              if (seen.has(p))
                findings.push({
                  position: p,
                  reason: `position ${p} is in JetStream twice (seq ${seen.get(p)!.seq} and ${m.seq})`,
                });
              else seen.set(p, { id: String(body.id), hash: eventContentHash(body), seq: m.seq });
            }
          }
          if (messages >= total) break;
        }
      } finally {
        clearTimeout(timer);
        await iter.close();
      }
      if (messages < total)
        findings.push({
          position: 0,
          reason:
            `read ${messages} of the stream's ${total} messages ` + `before the ${opts.timeoutMs ?? 60_000} ms timeout`,
        });
    }
  } finally {
    await nc.close();
  }
  let inRange = 0;
  for (let from = 0; from < opts.upTo;) {
    const links = await store.readChainLinks(from, 5000);
    if (links.length === 0) break;
    for (const l of links) {
      if (l.position > opts.upTo) break;
      inRange++;
      const copy = seen.get(l.position);
      if (!copy)
        findings.push({
          position: l.position,
          reason: `position ${l.position} (${l.id}) is missing from JetStream stream ${opts.stream}`,
        });
      else if (copy.id !== l.id)
        findings.push({
          position: l.position,
          reason: `position ${l.position}: JetStream seq ${copy.seq} carries event ${copy.id}, the store ${l.id}`,
        });
      else if (copy.hash !== l.contentHash)
        findings.push({
          position: l.position,
          reason:
            `position ${l.position} (${l.id}): JetStream copy hashes to ${copy.hash.slice(0, 16)}…, the ` +
            `store recorded ${String(l.contentHash).slice(0, 16)}…`,
        });
      seen.delete(l.position);
    }
    from = links[links.length - 1].position;
  }
  for (const [p, c] of seen)
    findings.push({
      position: p,
      reason: `JetStream seq ${c.seq} carries position ${p} (${c.id}), which the store does not hold`,
    });
  // Later messages are normally the relay being ahead of upTo; beyond the store's head now, the store lost its tail.
  if (beyond > 0) {
    const headNow = await store.headPosition();
    if (beyond > headNow)
      findings.push({
        position: headNow + 1,
        reason:
          `JetStream holds positions up to ${beyond}, the store only up to ${headNow}: positions ` +
          `${headNow + 1}..${beyond} are gone from the store`,
      });
  }
  const copied = inRange - findings.filter((f) => f.reason.includes('is missing from JetStream')).length;
  if (copied !== inRange)
    findings.push({
      position: 0,
      reason: `count: JetStream holds ${copied} of the store's ${inRange} events at positions 1..${opts.upTo}`,
    });
  findings.sort((a, b) => a.position - b.position);
  return { stream: opts.stream, upTo: opts.upTo, messages, findings };
}
