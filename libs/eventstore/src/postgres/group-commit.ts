import { DomainError, type EventEnvelope } from '@aevo/contracts';
import type { Pool } from 'pg';
import { ConcurrencyError, type AppendResult, type ExpectedVersion } from '../port';

/** One append as `append_group` takes it (schema.ts). */
export interface GroupItem {
  stream: string;
  expected: number;
  commandId: string | null;
  commandResult?: unknown;
  events: EventEnvelope[];
  metadata: Record<string, unknown>;
  /** Per event, see chain/chain.ts; append_group links them under the append lock. */
  contentHashes: string[];
  metadataHash: string;
  /** The distinct event types, comma-separated, for the commit's notification (schema migration 3). */
  types: string;
}

type GroupAnswer =
  { ok: AppendResult } | { error: 'concurrency'; actual: number } | { error: 'duplicate_event_id'; eventId: string };

interface PendingAppend {
  item: GroupItem;
  expected: ExpectedVersion;
  weight: number;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

/** Bound on one group commit: events plus one per append. */
const MAX_GROUP_WEIGHT = 2000;

/**
 * Group commit: appends requested while one transaction is in flight are sent together as the next one. Appends
 * are serialised by the database anyway; this lets one commit (one WAL flush) serve many of them. A lone append
 * is sent at once, so latency does not grow.
 */
export class GroupCommitQueue {
  private readonly queue: PendingAppend[] = [];
  private appending: Promise<void> | null = null;

  constructor(
    private readonly pool: Pool,
    /** The schema's `append_group` function, qualified. */
    private readonly appendGroupFn: string,
  ) {}

  /**
   * Queues one append; resolves with its result or rejects with ConcurrencyError / DUPLICATE_EVENT_ID / the failure.
   */
  append(item: GroupItem, expected: ExpectedVersion): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ item, expected, resolve, reject, weight: item.events.length + 1 });
      this.kick();
    });
  }

  /** Resolves once every append accepted so far is committed or refused. */
  async drained(): Promise<void> {
    while (this.appending) await this.appending;
  }

  private kick(): void {
    if (this.appending || this.queue.length === 0) return;
    this.appending = this.drain().finally(() => {
      this.appending = null;
      // An append queued between the loop's end and this callback would otherwise wait forever.
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group: PendingAppend[] = [];
      let weight = 0;
      while (this.queue.length > 0 && (group.length === 0 || weight + this.queue[0].weight <= MAX_GROUP_WEIGHT)) {
        const next = this.queue.shift()!;
        group.push(next);
        weight += next.weight;
      }
      try {
        const answers = await this.appendGroup(group.map((p) => p.item));
        group.forEach((p, i) => this.settle(p, answers[i]));
      } catch (err) {
        if (group.length === 1) {
          group[0].reject(translate(err, group[0].item.stream, group[0].expected));
          continue;
        }
        // Something unexpected failed the whole transaction: retry alone so only its owner sees the error.
        for (const p of group) {
          try {
            this.settle(p, (await this.appendGroup([p.item]))[0]);
          } catch (e) {
            p.reject(translate(e, p.item.stream, p.expected));
          }
        }
      }
    }
  }

  private async appendGroup(items: GroupItem[]): Promise<GroupAnswer[]> {
    const res = await this.pool.query<{ answers: GroupAnswer[] }>(
      `SELECT ${this.appendGroupFn}($1::jsonb) AS answers`,
      [JSON.stringify(items)],
    );
    return res.rows[0].answers;
  }

  private settle(p: PendingAppend, answer: GroupAnswer): void {
    if ('ok' in answer) p.resolve(answer.ok);
    else if (answer.error === 'concurrency') p.reject(new ConcurrencyError(p.item.stream, p.expected, answer.actual));
    else
      p.reject(
        new DomainError('DUPLICATE_EVENT_ID', `event ${answer.eventId} is already stored`, [
          {
            path: `events.${p.item.events.findIndex((e) => e.id === answer.eventId)}.id`,
            message: 'event ids must be unique',
          },
        ]),
      );
  }
}

/** A unique-key violation as the port's error; anything else unchanged. */
function translate(err: unknown, streamId: string, expected: ExpectedVersion): unknown {
  const e = err as { code?: string; constraint?: string; detail?: string };
  if (e.code === '23505' && e.constraint === 'events_event_id_key')
    return new DomainError('DUPLICATE_EVENT_ID', `an event with this id is already stored (${e.detail ?? ''})`, [
      { path: 'events.id', message: 'event ids must be unique' },
    ]);
  if (e.code === '23505' && e.constraint === 'events_stream_version_key')
    return new ConcurrencyError(streamId, expected, NaN);
  return err;
}
