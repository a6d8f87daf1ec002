import { FORWARDS, NO_STREAM, jsonEvent, type KurrentDBClient } from '@kurrent/kurrentdb-client';
import {
  GENESIS_CHAIN_HASH,
  chainLink,
  eventContentHash,
  metadataHash,
  verifyChainRows,
  type ChainFinding,
  type ChainLinkRow,
  type ChainReport,
} from '../chain/chain';
import { isWrongExpectedVersion, type PositionIndex, type StreamNames } from './mapping';

/** Events of the chain stream (`<ns>-chain`). */
const CHAIN_LINK = 'AevoChainLink';

/**
 * The hash chain of a KurrentDB store: `<ns>-chain` holds one link per position (link of position p at revision
 * p − 1), with the same content and chain hashes as PostgreSQL's (chain/chain.ts), the append's metadata
 * (`{commandId?, traceparent?, tracestate?}`) hashed in as PostgreSQL does.
 */
export class KurrentDbChain {
  /** How many positions `<ns>-chain` links (as far as this instance knows) and the last link's hash. */
  private readonly state = { linked: 0, lastHash: GENESIS_CHAIN_HASH };
  private chaining: Promise<void> | null = null;

  constructor(
    private readonly client: KurrentDBClient,
    private readonly names: StreamNames,
    private readonly index: PositionIndex,
  ) {}

  /**
   * Links every indexed position not yet chained, in one append to `<ns>-chain` whose expected revision is the last
   * link: of two instances extending at once one wins and the other adopts its links and goes on from there. So
   * the chain follows `$all` order with no gap and is written after the events, not with them (KurrentDB has no
   * atomic write across streams): an append returns once its events are chained; one whose writer died before
   * that is chained by the next append of any instance, and verifyChain reports it unchained meanwhile.
   */
  extend(): Promise<void> {
    const run = (this.chaining ?? Promise.resolve()).then(() => this.extendNow());
    const settled = run.catch(() => undefined);
    this.chaining = settled;
    void settled.finally(() => {
      if (this.chaining === settled) this.chaining = null;
    });
    return run;
  }

  /** Resolves once no extension is under way (for close). */
  async settled(): Promise<void> {
    await this.chaining;
  }

  private async extendNow(): Promise<void> {
    for (;;) {
      const from = this.state.linked;
      const upTo = this.index.head;
      if (from >= upTo) return;
      let previous = this.state.lastHash;
      const links: ChainLinkRow[] = [];
      for (let p = from + 1; p <= upTo; p++) {
        const e = this.index.at(p);
        const contentHash = eventContentHash(e);
        const chainHash = chainLink(
          previous,
          p,
          e.streamVersion,
          contentHash,
          metadataHash(this.index.appendMetadataAt(p)),
        );
        links.push({ position: p, id: e.id, contentHash, chainHash });
        previous = chainHash;
      }
      try {
        await this.client.appendToStream(
          this.names.chain,
          links.map((l) => jsonEvent({ type: CHAIN_LINK, data: l as never })),
          { streamState: from === 0 ? NO_STREAM : BigInt(from - 1) },
        );
        this.state.linked = upTo;
        this.state.lastHash = previous;
        return;
      } catch (err) {
        if (!isWrongExpectedVersion(err)) throw err;
        await this.adoptLinks(from);
      }
    }
  }

  /** Moves this instance's chain state past the links others stored after `from` (paged: the chain can be long). */
  async adoptLinks(from: number): Promise<void> {
    for (let after = from; ;) {
      const page = await this.readLinks(after, 5000);
      if (page.length === 0) return;
      const last = page[page.length - 1];
      this.state.linked = last.position;
      this.state.lastHash = last.chainHash ?? this.state.lastHash;
      after = last.position;
    }
  }

  /** Links stored at positions after `fromPosition`, at most `limit`, read from the server. */
  async readLinks(fromPosition: number, limit: number): Promise<ChainLinkRow[]> {
    const out: ChainLinkRow[] = [];
    try {
      for await (const r of this.client.readStream(this.names.chain, {
        fromRevision: BigInt(fromPosition),
        direction: FORWARDS,
        maxCount: limit,
      })) {
        const d = r.event?.data as Partial<ChainLinkRow> | undefined;
        out.push({
          position: Number(r.event!.revision) + 1,
          id: String(d?.id ?? ''),
          contentHash: d?.contentHash ?? null,
          chainHash: d?.chainHash ?? null,
        });
      }
    } catch (err) {
      if ((err as Error)?.name === 'StreamNotFoundError' || (err as { type?: string })?.type === 'stream-not-found')
        return [];
      throw err;
    }
    return out;
  }

  /**
   * Recomputes the chain over positions 1..toPosition (default: the head) from the events as the index holds them
   * (the caller syncs it first) and compares it with the links stored in `<ns>-chain` (read afresh from the server).
   * A deleted or rewritten stream shifts or changes what is at a position, which no longer matches its link.
   */
  async verify(opts: { toPosition?: number } = {}): Promise<ChainReport> {
    const upTo = Math.min(opts.toPosition ?? this.index.head, this.index.head);
    const stored = await this.readLinks(0, upTo);
    const findings: ChainFinding[] = [];
    const state = { previous: GENESIS_CHAIN_HASH, nextPosition: 1 };
    const rows = [];
    for (let p = 1; p <= upTo; p++) {
      const event = this.index.at(p);
      const link = stored[p - 1];
      if (link && link.id !== event.id)
        findings.push({
          position: p,
          reason: `position ${p} holds event ${event.id} but its chain link was written for ${link.id}`,
        });
      rows.push({
        event,
        metadata: this.index.appendMetadataAt(p),
        contentHash: link?.contentHash ?? null,
        chainHash: link?.chainHash ?? null,
      });
    }
    verifyChainRows(rows, state, findings);
    if (opts.toPosition !== undefined && opts.toPosition > upTo)
      findings.push({ position: upTo + 1, reason: `positions ${upTo + 1}..${opts.toPosition} are missing` });
    findings.sort((a, b) => a.position - b.position);
    return { checked: rows.length, upTo: opts.toPosition ?? upTo, retroactiveThrough: 0, chainedAt: null, findings };
  }
}
