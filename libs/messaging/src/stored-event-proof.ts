import { eventContentHash, relaySubject, type StoredEventLink } from '@aevo/eventstore';

/**
 * Why a consumer looks each message up in the store rather than checking a relay signature: the store is the
 * record the principle names ("act only on what is stored"), so the proof needs no second secret to provision,
 * rotate and keep out of every process that may lead the relay (the relay runs inside every service), and it also
 * proves the event is still stored at the position the message claims. Its cost is one indexed read per batch of
 * messages, shared by every consumer in the process through a cache of what was already proven
 * (bench/eventstore `verify` and bench/campaign measure it).
 */
export type StoredEventLookup = (eventIds: readonly string[]) => Promise<Map<string, StoredEventLink>>;

export type StoredEventVerdict = { stored: true } | { stored: false; reason: string };

/** The keys of a relayed message body (relayPayload): anything else was not written by the relay. */
const BODY_KEYS = new Set([
  'id',
  'type',
  'schemaVersion',
  'streamId',
  'campaignId',
  'causationId',
  'correlationId',
  'time',
  'source',
  'data',
  'position',
  'streamVersion',
]);

export interface StoredEventProofCounters {
  /** Messages proven to be stored events. */
  proven: number;
  /** Messages dropped because they are not (forged, altered, or on another subject). */
  dropped: number;
  /** Store reads made (each covers every message waiting at that moment). */
  lookups: number;
  /** Messages proven from the cache (another consumer in this process proved the same event). */
  cacheHits: number;
}

/**
 * Proves that a JetStream message is, byte for byte in what a handler reads, an event of the store: its id is
 * stored, at the position and stream version the message carries, with the same envelope hash, and it arrived on
 * the subject the relay publishes that event on. Lookups that arrive together share one read.
 */
export class StoredEventProof {
  readonly counters: StoredEventProofCounters = { proven: 0, dropped: 0, lookups: 0, cacheHits: 0 };
  /** id → "position:streamVersion:contentHash" of events already proven (insertion-ordered, oldest evicted). */
  private readonly proven = new Map<string, string>();
  private pending: Array<{
    id: string;
    resolve: (link: StoredEventLink | undefined) => void;
    reject: (err: unknown) => void;
  }> = [];
  private scheduled = false;

  constructor(
    private readonly lookup: StoredEventLookup,
    private readonly opts: { subjectPrefix: string; cacheSize?: number },
  ) {}

  /** Throws only when the store cannot be asked (an outage): the caller keeps the message and asks again. */
  async verify(subject: string, data: Uint8Array): Promise<StoredEventVerdict> {
    const claim = parseClaim(data);
    if (typeof claim === 'string') return this.drop(claim);
    const expectedSubject = relaySubject(
      this.opts.subjectPrefix,
      claim.envelope as { campaignId: string; type: string },
    );
    if (subject !== expectedSubject)
      return this.drop(`subject ${subject} is not where the relay publishes it (${expectedSubject})`);
    const fingerprint = `${claim.position}:${claim.streamVersion}:${claim.contentHash}`;
    if (this.proven.get(claim.id) === fingerprint) {
      this.counters.cacheHits++;
      this.counters.proven++;
      return { stored: true };
    }
    const link = await this.find(claim.id);
    if (!link) return this.drop(`event ${claim.id} is not in the store`);
    if (link.position !== claim.position || link.streamVersion !== claim.streamVersion)
      return this.drop(
        `event ${claim.id} is stored at position ${link.position} (stream version ${link.streamVersion}), ` +
          `not ${claim.position} (${claim.streamVersion})`,
      );
    if (link.contentHash !== claim.contentHash)
      return this.drop(
        `event ${claim.id} differs from the stored one (content hash ${claim.contentHash.slice(0, 12)} ` +
          `≠ ${link.contentHash.slice(0, 12)})`,
      );
    this.remember(claim.id, fingerprint);
    this.counters.proven++;
    return { stored: true };
  }

  private drop(reason: string): StoredEventVerdict {
    this.counters.dropped++;
    return { stored: false, reason };
  }

  private remember(id: string, fingerprint: string): void {
    this.proven.delete(id);
    this.proven.set(id, fingerprint);
    const max = this.opts.cacheSize ?? 8192;
    while (this.proven.size > max) this.proven.delete(this.proven.keys().next().value as string);
  }

  /** Queues the id; the first caller in a turn of the event loop schedules one read for everyone waiting. */
  private find(id: string): Promise<StoredEventLink | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ id, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const waiting = this.pending;
    this.pending = [];
    this.scheduled = false;
    this.counters.lookups++;
    try {
      const found = await this.lookup(waiting.map((w) => w.id));
      for (const w of waiting) w.resolve(found.get(w.id));
    } catch (err) {
      for (const w of waiting) w.reject(err);
    }
  }
}

interface Claim {
  id: string;
  position: number;
  streamVersion: number;
  contentHash: string;
  envelope: Record<string, unknown>;
}

/** What the message says it is, or why it cannot be a relayed event at all. */
function parseClaim(data: Uint8Array): Claim | string {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return 'the body is not JSON';
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'the body is not a JSON object';
  const body = raw as Record<string, unknown>;
  const extra = Object.keys(body).filter((k) => !BODY_KEYS.has(k));
  if (extra.length > 0) return `the body has keys the relay never writes (${extra.slice(0, 3).join(', ')})`;
  const { position, streamVersion, ...envelope } = body;
  if (typeof envelope.id !== 'string') return 'the body has no event id';
  if (typeof envelope.campaignId !== 'string' || typeof envelope.type !== 'string')
    return 'the body has no campaign id or type';
  if (!Number.isInteger(position) || !Number.isInteger(streamVersion))
    return 'the body does not carry its store position and stream version';
  let contentHash: string;
  try {
    contentHash = eventContentHash(envelope as Parameters<typeof eventContentHash>[0]);
  } catch (err) {
    return `the envelope cannot be hashed: ${(err as Error).message}`;
  }
  return {
    id: envelope.id,
    position: position as number,
    streamVersion: streamVersion as number,
    contentHash,
    envelope,
  };
}
