import { canonicalJson, sha256Hex } from '@aevo/contracts';
import type { StoredEvent } from '../port';

/**
 * The hash chain over the log (global position order).
 *
 * - content hash of an event = sha256 (hex) of the canonical JSON (`canonicalJson` from @aevo/contracts: object
 *   keys sorted by UTF-16 code units at every level, no whitespace, `undefined` members dropped) of the whole
 *   envelope as a read returns it: id, type, schemaVersion, streamId, campaignId, causationId, correlationId
 *   (null when absent), time, source, data. Position and stream version are not in it, so the JetStream copy
 *   (whose body adds them) hashes the same once they are removed.
 * - chain hash at position p = sha256 (hex) of the UTF-8 text `<previous chain hash>:<p>:<streamVersion>:<content
 *   hash>:<metadata hash>`, where the previous chain hash of position 1 is 64 zeros and the metadata hash is the
 *   sha256 of the canonical JSON of the row's metadata (`{commandId}` or `{}`). Position and stream version are
 *   in the link so that moving a row breaks it too.
 *
 * The content hash is computed by the store in Node (PostgreSQL has no canonical JSON); the link is computed by
 * `append_group` under the append lock, where the predecessor's hash is known (see schema.ts).
 */
export const GENESIS_CHAIN_HASH = '0'.repeat(64);

export type EnvelopeFields = Pick<
  StoredEvent,
  'id' | 'type' | 'schemaVersion' | 'streamId' | 'campaignId' | 'time' | 'source'
> & {
  causationId?: string | null;
  correlationId?: string | null;
  data?: unknown;
};

/** The envelope exactly as stored and read back (absent optional ids are null, absent data is null). */
export function chainedEnvelope(e: EnvelopeFields): Record<string, unknown> {
  return {
    id: e.id,
    type: e.type,
    schemaVersion: e.schemaVersion,
    streamId: e.streamId,
    campaignId: e.campaignId,
    causationId: e.causationId ?? null,
    correlationId: e.correlationId ?? null,
    time: e.time,
    source: e.source,
    data: e.data === undefined ? null : e.data,
  };
}

export const eventContentHash = (e: EnvelopeFields): string => sha256Hex(canonicalJson(chainedEnvelope(e)));

export const metadataHash = (metadata: unknown): string => sha256Hex(canonicalJson(metadata ?? {}));

export function chainLink(
  previous: string,
  position: number,
  streamVersion: number,
  contentHash: string,
  metaHash: string,
): string {
  return sha256Hex(`${previous}:${position}:${streamVersion}:${contentHash}:${metaHash}`);
}

/** One finding of a chain verification, with a one-line reason. */
export interface ChainFinding {
  position: number;
  reason: string;
}

export interface ChainReport {
  /** Rows checked (positions 1..upTo). */
  checked: number;
  upTo: number;
  /** Positions 1..retroactiveThrough were chained once by the migration, not at append time (0: none). */
  retroactiveThrough: number;
  chainedAt: string | null;
  /** In position order; the first is the first position that breaks the chain. */
  findings: ChainFinding[];
}

/** What a copy of the log is compared against. */
export interface ChainLinkRow {
  position: number;
  id: string;
  contentHash: string | null;
  chainHash: string | null;
}

/** A row as the verifier needs it. */
export interface ChainRow {
  event: StoredEvent;
  metadata: unknown;
  contentHash: string | null;
  chainHash: string | null;
}

/**
 * Verifies rows in position order, continuing from `state`. One edited row is reported once and later rows are
 * still checked: after a break the next row may link from either the stored hash (the row's event was edited)
 * or the recomputed one (its chain_hash was edited), and linking from either is no new finding.
 */
export function verifyChainRows(
  rows: ChainRow[],
  state: { previous: string; alternative?: string; nextPosition: number },
  findings: ChainFinding[],
): void {
  for (const r of rows) {
    const p = r.event.position;
    if (p !== state.nextPosition)
      findings.push({
        position: state.nextPosition,
        reason: `position ${state.nextPosition} is missing (next stored row is ${p})`,
      });
    state.nextPosition = p + 1;
    const alternative = state.alternative;
    state.alternative = undefined;
    if (r.contentHash === null || r.chainHash === null) {
      findings.push({ position: p, reason: `position ${p} carries no hash (written outside the chained append path)` });
      state.previous = r.chainHash ?? state.previous;
      continue;
    }
    const content = eventContentHash(r.event);
    const meta = metadataHash(r.metadata);
    let link = chainLink(state.previous, p, r.event.streamVersion, r.contentHash, meta);
    if (link !== r.chainHash && alternative !== undefined)
      link = chainLink(alternative, p, r.event.streamVersion, r.contentHash, meta);
    if (content !== r.contentHash)
      findings.push({
        position: p,
        reason:
          `position ${p} (${r.event.type} ${r.event.id}): stored event hashes to ${content.slice(0, 16)}…, ` +
          `recorded content hash ${r.contentHash.slice(0, 16)}…`,
      });
    else if (link !== r.chainHash) {
      findings.push({
        position: p,
        reason:
          `position ${p} (${r.event.type} ${r.event.id}): chain hash ${r.chainHash.slice(0, 16)}… does not ` +
          `follow from its predecessor (recomputed ${link.slice(0, 16)}…)`,
      });
      state.alternative = link;
    }
    state.previous = r.chainHash;
  }
}
