import type { EventEnvelope } from '@aevo/contracts';
import { FORWARDS, START, jsonEvent, type KurrentDBClient } from '@kurrent/kurrentdb-client';
import type { ExpectedVersion } from '../port';
import { isWrongExpectedVersion, type ClientRecordedEvent, type TraceContext } from './mapping';

/**
 * Records in a command's stream (`<ns>-command:<sha256(commandId)>`), in order: Reserved, then Completed or Released.
 */
export const RESERVED = 'AevoCommandReserved';
export const COMPLETED = 'AevoCommandCompleted';
export const RELEASED = 'AevoCommandReleased';

/** What a command's owner is about to append: whoever completes the command writes exactly this. */
export interface Reservation {
  commandId: string;
  streamId: string;
  expected: ExpectedVersion;
  events: EventEnvelope[];
  commandResult?: unknown;
  /** The append's trace context, so that a retry completing someone else's reservation writes the same metadata. */
  traceContext?: TraceContext;
}

export interface Completion {
  nextExpectedVersion: number;
  eventIds: string[];
}

export type CommandRecord =
  | { type: typeof RESERVED; revision: bigint; data: Reservation }
  | { type: typeof COMPLETED; revision: bigint; data: Completion; reservation: Reservation }
  | { type: typeof RELEASED; revision: bigint };

/** The records of a command's stream in order ([] when it does not exist). */
export async function readCommandRecords(client: KurrentDBClient, stream: string): Promise<CommandRecord[]> {
  const out: CommandRecord[] = [];
  let reservation: Reservation | null = null;
  try {
    for await (const resolved of client.readStream(stream, { fromRevision: START, direction: FORWARDS })) {
      const e = resolved.event as ClientRecordedEvent | undefined;
      if (!e) continue;
      if (e.type === RESERVED) {
        reservation = e.data as Reservation;
        out.push({ type: RESERVED, revision: e.revision, data: reservation });
      } else if (e.type === COMPLETED && reservation)
        out.push({ type: COMPLETED, revision: e.revision, data: e.data as Completion, reservation });
      else if (e.type === RELEASED) out.push({ type: RELEASED, revision: e.revision });
    }
  } catch (err) {
    if ((err as { type?: string })?.type === 'stream-not-found' || (err as Error)?.name === 'StreamNotFoundError')
      return [];
    throw err;
  }
  return out;
}

/** Writes the record right after the reservation; losing that race to another completer is fine (same outcome). */
export async function recordCommand(
  client: KurrentDBClient,
  stream: string,
  type: string,
  data: unknown,
  reservedAt: bigint,
): Promise<void> {
  try {
    await client.appendToStream(stream, jsonEvent({ type, data: data as never }), { streamState: reservedAt });
  } catch (err) {
    if (!isWrongExpectedVersion(err)) throw err;
  }
}
