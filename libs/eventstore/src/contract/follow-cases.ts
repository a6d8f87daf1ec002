import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { eventContentHash } from '../chain/chain';
import type { StoredEvent } from '../port';
import { contractEvent, suffix, waitFor, type ContractContext } from './helpers';

/** The contract's followers and guarantees on stored events: subscriptions, immutability, lookups by id. */
export function followContractCases(ctx: ContractContext): void {
  const { it, timeout, campaign, stream, another } = ctx;

  it(
    'subscribes: catches up in order, follows new appends, awaits the handler, stops on close',
    async () => {
      const store = ctx.store;
      const s = stream('sub');
      const start = await store.headPosition();
      await store.append(s, 'no-stream', [
        contractEvent(s, campaign, 'before-1'),
        contractEvent(s, campaign, 'before-2'),
      ]);
      const seen: StoredEvent[] = [];
      let running = 0;
      let overlapped = false;
      const sub = store.subscribe(start, async (e) => {
        running++;
        if (running > 1) overlapped = true;
        await new Promise((r) => setTimeout(r, 2));
        seen.push(e);
        running--;
      });
      await waitFor(() => seen.length >= 2, 30_000, 'catch-up');
      await store.append(s, 2, [contractEvent(s, campaign, 'after-1')]);
      await store.append(s, 3, [contractEvent(s, campaign, 'after-2')]);
      await waitFor(() => seen.length >= 4, 30_000, 'live events');
      assert.deepEqual(
        seen.map((e) => e.position),
        [start + 1, start + 2, start + 3, start + 4],
      );
      assert.deepEqual(
        seen.map((e) => (e.data as { reason: string }).reason),
        ['before-1', 'before-2', 'after-1', 'after-2'],
      );
      assert.equal(overlapped, false, 'the handler is awaited before the next event');
      await sub.close();
      await sub.done;
      await store.append(s, 4, [contractEvent(s, campaign, 'after-close')]);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.length, 4, 'no delivery after close');
    },
    timeout,
  );

  it(
    'subscribes with a campaign filter from a middle position',
    async () => {
      const store = ctx.store;
      const camp = `c${suffix()}`;
      const s = stream('subf');
      const o = stream('subf-other');
      await store.append(s, 'no-stream', [contractEvent(s, camp, 'skip-me')]);
      const from = await store.headPosition();
      await store.append(o, 'no-stream', [contractEvent(o, `c${suffix()}`, 'other campaign')]);
      await store.append(s, 1, [contractEvent(s, camp, 'want')]);
      const seen: string[] = [];
      const sub = store.subscribe(from, async (e) => void seen.push((e.data as { reason: string }).reason), {
        campaignId: camp,
      });
      await waitFor(() => seen.length >= 1, 30_000, 'filtered event');
      await store.append(s, 2, [contractEvent(s, camp, 'live')]);
      await waitFor(() => seen.length >= 2, 30_000, 'filtered live event');
      await sub.close();
      assert.deepEqual(seen, ['want', 'live']);
    },
    timeout,
  );

  it(
    'never lets a follower skip an event while many writers append concurrently',
    async () => {
      const store = ctx.store;
      const other = await another();
      const start = await store.headPosition();
      const seen: number[] = [];
      const sub = other.subscribe(start, async (e) => void seen.push(e.position));
      const writers = Array.from({ length: 6 }, (_, w) =>
        (async () => {
          const s = stream(`w${w}`);
          const target = w % 2 === 0 ? store : other;
          for (let i = 0; i < 25; i++) await target.append(s, i, [contractEvent(s, campaign, `${w}-${i}`)]);
        })(),
      );
      await Promise.all(writers);
      const total = 6 * 25;
      await waitFor(() => seen.length >= total, 60_000, 'all concurrent events');
      await sub.close();
      assert.deepEqual(
        seen,
        Array.from({ length: total }, (_, i) => start + 1 + i),
      );
    },
    timeout,
  );

  it(
    'stops a subscription whose handler throws and reports the error on done',
    async () => {
      const store = ctx.store;
      const s = stream('subfail');
      const from = await store.headPosition();
      await store.append(s, 'no-stream', [contractEvent(s, campaign, 'x'), contractEvent(s, campaign, 'y')]);
      let calls = 0;
      const sub = store.subscribe(from, async () => {
        calls++;
        throw new Error('handler broke');
      });
      await assert.rejects(sub.done, /handler broke/);
      assert.equal(calls, 1);
      await sub.close();
    },
    timeout,
  );

  it(
    'keeps stored events immutable at the storage level',
    async () => {
      const store = ctx.store;
      if (!ctx.harness.tamper) return;
      const s = stream('immutable');
      await store.append(s, 'no-stream', [contractEvent(s, campaign, 'keep me')]);
      const [before] = await store.readStream(s);
      await assert.rejects(ctx.harness.tamper.update(before.id));
      await assert.rejects(ctx.harness.tamper.delete(before.id));
      assert.deepEqual(await store.readStream(s), [before]);
    },
    timeout,
  );

  it(
    "looks up stored events by id: position, stream version and the stored envelope's content hash",
    async () => {
      const store = ctx.store;
      if (!store.lookupStoredEvents) return;
      const s = stream('lookup');
      const appended = [contractEvent(s, campaign, 'one'), contractEvent(s, campaign, 'two')];
      await store.append(s, 'no-stream', appended);
      const stored = await store.readStream(s);
      const found = await (
        await another()
      ).lookupStoredEvents!([stored[1].id, stored[0].id, randomUUID(), 'not-a-uuid', stored[0].id]);
      assert.deepEqual(
        [...found.entries()].sort((a, b) => a[1].position - b[1].position),
        stored.map((e) => [
          e.id,
          { position: e.position, streamVersion: e.streamVersion, contentHash: eventContentHash(e) },
        ]),
      );
      assert.equal((await store.lookupStoredEvents([])).size, 0);
    },
    timeout,
  );
}
