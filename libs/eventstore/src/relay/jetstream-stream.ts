import { StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { POSITION_HEADER, relayWildcard } from './cloudevents';

/** Thrown when the JetStream stream holds something a relay cannot continue from (or is set up wrongly). */
export class RelayStreamStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayStreamStateError';
  }
}

export function isJetStreamNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown; api_error?: { code?: number } };
  return (
    e?.name === 'StreamNotFoundError' ||
    e?.code === 404 ||
    e?.api_error?.code === 404 ||
    /not found/i.test(String(e?.message ?? ''))
  );
}

/**
 * Creates the event stream (file storage, no age limit, deny delete and purge, the given dedupe window), or checks
 * an existing one and adds the deny flags it lacks. The same settings the outbox relay provisions.
 */
export async function ensureEventStream(
  jsm: JetStreamManager,
  o: {
    stream: string;
    subjectPrefix: string;
    duplicateWindowMs: number;
    log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void;
  },
): Promise<StreamInfo> {
  const wanted = relayWildcard(o.subjectPrefix);
  let info = await jsm.streams.info(o.stream).catch((err) => {
    if (isJetStreamNotFound(err)) return null;
    throw err;
  });
  if (!info) {
    try {
      info = await jsm.streams.add({
        name: o.stream,
        subjects: [wanted],
        storage: StorageType.File,
        deny_delete: true,
        deny_purge: true,
        max_age: 0,
        duplicate_window: o.duplicateWindowMs * 1_000_000,
      });
      o.log('info', 'stream created', { stream: o.stream, subjects: [wanted] });
      return info;
    } catch (err) {
      // Another relay or service created it meanwhile.
      info = await jsm.streams.info(o.stream).catch(() => null);
      if (!info) throw err;
    }
  }
  const c = info.config;
  if (!c.subjects?.includes(wanted))
    throw new RelayStreamStateError(
      `stream ${o.stream} exists but does not capture ${wanted} (subjects: ${(c.subjects ?? []).join(', ')})`,
    );
  if (c.storage !== StorageType.File)
    throw new RelayStreamStateError(
      `stream ${o.stream} uses ${c.storage} storage; the event stream must use file storage`,
    );
  if (c.max_age !== 0)
    o.log('warn', 'stream has an age limit: old events will expire from JetStream', {
      stream: o.stream,
      max_age_ns: c.max_age,
    });
  if (!c.deny_delete || !c.deny_purge) {
    info = await jsm.streams.update(o.stream, { ...c, deny_delete: true, deny_purge: true });
    o.log('info', 'stream updated to deny delete and purge', { stream: o.stream });
  }
  return info;
}

/**
 * Where a relay resumes: the store position carried by the stream's last message (its `aevo-position` header) and
 * the stream's last sequence. Walks back over at most 1000 messages without the header (published by something
 * else). `head` is the store's head: a stream that is ahead of it belongs to another log.
 */
export async function jetStreamResumePoint(
  jsm: JetStreamManager,
  stream: string,
  head: () => Promise<number>,
): Promise<{ position: number; lastSeq: number }> {
  const info = await jsm.streams.info(stream);
  const lastSeq = info.state.last_seq;
  if (info.state.messages === 0) return { position: 0, lastSeq };
  for (let seq = lastSeq, steps = 0; seq >= info.state.first_seq && steps < 1000; seq--, steps++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch((err) => {
      if (isJetStreamNotFound(err)) return null;
      throw err;
    });
    const raw = m?.header?.get(POSITION_HEADER);
    if (!raw) continue;
    const position = Number(raw);
    if (!Number.isSafeInteger(position) || position < 1)
      throw new RelayStreamStateError(`message ${seq} in ${stream} has a bad ${POSITION_HEADER} header "${raw}"`);
    const storeHead = await head();
    if (position > storeHead)
      throw new RelayStreamStateError(
        `stream ${stream} already holds position ${position} but the store ends at ${storeHead}: they ` +
          `belong to different logs`,
      );
    return { position, lastSeq };
  }
  throw new RelayStreamStateError(
    `stream ${stream} has messages but none of its last 1000 carries ${POSITION_HEADER}: it is not this relay's stream`,
  );
}
