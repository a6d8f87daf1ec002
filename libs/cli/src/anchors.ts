import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EventStore } from '@aevo/eventstore';
import { CommandFailed, UsageError } from './campaign-commands';

/**
 * A chain anchor: the head's position and chain hash, written outside the database (a file the operator keeps
 * elsewhere: another host, a ticket, a commit). The chain proves each event follows its predecessor; only an anchor
 * proves nobody recomputed the whole chain after rewriting the log (a DBA can).
 */
export interface ChainAnchor {
  position: number;
  chainHash: string;
  at: string;
}

/** The current head as an anchor (null when the log is empty). */
export async function currentAnchor(store: EventStore): Promise<ChainAnchor | null> {
  if (!store.readChainLinks) throw new CommandFailed('this event store keeps no hash chain: nothing to anchor', 1);
  const head = await store.headPosition();
  if (head === 0) return null;
  const [link] = await store.readChainLinks(head - 1, 1);
  if (!link || link.position !== head || !link.chainHash)
    throw new CommandFailed(`position ${head} has no chain hash: run aevo audit replay --verify`, 1);
  return { position: head, chainHash: link.chainHash, at: new Date().toISOString() };
}

/** Appends one JSON line to `file` (created 0644 with its directory; earlier anchors are never rewritten). */
export function appendAnchor(file: string, anchor: ChainAnchor): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.appendFileSync(file, `${JSON.stringify(anchor)}\n`);
}

/** Reads an anchors file; each bad line is a usage error naming the line and what was expected. */
export function readAnchors(file: string): ChainAnchor[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--anchors ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const out: ChainAnchor[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let a: Partial<ChainAnchor>;
    try {
      a = JSON.parse(line) as Partial<ChainAnchor>;
    } catch {
      throw new UsageError(`--anchors ${file}: line ${i + 1} is not JSON`);
    }
    if (
      !Number.isSafeInteger(a.position) ||
      (a.position as number) < 1 ||
      typeof a.chainHash !== 'string' ||
      !/^[0-9a-f]{64}$/.test(a.chainHash)
    )
      throw new UsageError(
        `--anchors ${file}: line ${i + 1}: expected {"position": <integer >= 1>, "chainHash": <64 hex ` +
          `digits>, "at": <time>}`,
      );
    out.push({
      position: a.position as number,
      chainHash: a.chainHash,
      at: typeof a.at === 'string' ? a.at : '(no time)',
    });
  });
  return out;
}

/** One reason per anchor the store no longer matches. */
export async function checkAnchors(
  store: EventStore,
  anchors: readonly ChainAnchor[],
  head: number,
): Promise<string[]> {
  if (!store.readChainLinks)
    return anchors.length > 0 ? ['this event store keeps no hash chain: anchors cannot be checked'] : [];
  const findings: string[] = [];
  for (const a of anchors) {
    if (a.position > head) {
      findings.push(`position ${a.position} anchored at ${a.at} is beyond the head ${head}: events were removed`);
      continue;
    }
    const [link] = await store.readChainLinks(a.position - 1, 1);
    if (!link || link.position !== a.position)
      findings.push(`position ${a.position} anchored at ${a.at} is missing from the log`);
    else if (link.chainHash !== a.chainHash)
      findings.push(
        `position ${a.position}: chain hash ${String(link.chainHash).slice(0, 12)} ≠ ` +
          `${a.chainHash.slice(0, 12)} anchored at ${a.at}: the log up to it was rewritten and its chain ` +
          `recomputed`,
      );
  }
  return findings;
}
