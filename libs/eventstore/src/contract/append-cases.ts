import assert from 'node:assert/strict';
import { CampaignResumed, DomainError, createEvent, type EventEnvelope } from '@aevo/contracts';
import { ConcurrencyError, type EventStore } from '../port';
import { contractEvent, envelopeOf, rejectsWith, suffix, type ContractContext } from './helpers';

/** The contract's appends: versions, concurrency, reads, idempotent commands and refused input. */
export function appendContractCases(ctx: ContractContext): void {
  const { it, timeout, campaign, stream, another } = ctx;

  it(
    'appends to a new stream and reads back exactly what was appended, with versions and positions',
    async () => {
      const store = ctx.store;
      const s = stream('fresh');
      const events = [
        contractEvent(s, campaign, 'a'),
        contractEvent(s, campaign, 'b'),
        contractEvent(s, campaign, 'c'),
      ];
      const headBefore = await store.headPosition();
      const res = await store.append(s, 'no-stream', events);
      assert.equal(res.duplicate, false);
      assert.equal(res.streamId, s);
      assert.equal(res.nextExpectedVersion, 3);
      assert.deepEqual(res.positions, [headBefore + 1, headBefore + 2, headBefore + 3]);
      const read = await store.readStream(s);
      assert.deepEqual(read.map(envelopeOf), events);
      assert.deepEqual(
        read.map((e) => e.streamVersion),
        [1, 2, 3],
      );
      assert.deepEqual(
        read.map((e) => e.position),
        res.positions,
      );
      assert.deepEqual(
        (await store.readStream(s, 2)).map((e) => e.streamVersion),
        [2, 3],
      );
      assert.equal(await store.streamVersion(s), 3);
      assert.equal(await store.headPosition(), headBefore + 3);
      assert.equal(await store.streamVersion(stream('missing')), 0);
      assert.deepEqual(await store.readStream(stream('missing')), []);
    },
    timeout,
  );

  it(
    'checks the expected version: exact number, no-stream and any',
    async () => {
      const store = ctx.store;
      const s = stream('expect');
      await store.append(s, 0, [contractEvent(s, campaign)]);
      const next = await store.append(s, 1, [contractEvent(s, campaign)]);
      assert.equal(next.nextExpectedVersion, 2);
      const stale = await rejectsWith(store.append(s, 1, [contractEvent(s, campaign)]), ConcurrencyError);
      assert.equal(stale.code, 'CONCURRENCY_CONFLICT');
      assert.equal(stale.streamId, s);
      assert.equal(stale.expected, 1);
      assert.equal(stale.actual, 2);
      assert.ok(stale instanceof DomainError);
      const exists = await rejectsWith(store.append(s, 'no-stream', [contractEvent(s, campaign)]), ConcurrencyError);
      assert.equal(exists.actual, 2);
      await rejectsWith(store.append(s, 5, [contractEvent(s, campaign)]), ConcurrencyError);
      const any = await store.append(s, 'any', [contractEvent(s, campaign)]);
      assert.equal(any.nextExpectedVersion, 3);
      assert.equal(await store.streamVersion(s), 3);
    },
    timeout,
  );

  it(
    'lets exactly one of two concurrent appenders with the same expected version win',
    async () => {
      const store = ctx.store;
      const other = await another();
      for (let round = 0; round < 5; round++) {
        const s = stream('race');
        await store.append(s, 'no-stream', [contractEvent(s, campaign, 'seed')]);
        const outcomes = await Promise.allSettled([
          store.append(s, 1, [contractEvent(s, campaign, 'left')]),
          other.append(s, 1, [contractEvent(s, campaign, 'right')]),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        assert.equal(won.length, 1, `round ${round}: exactly one appender must win`);
        assert.equal(lost.length, 1);
        assert.ok(
          lost[0].reason instanceof ConcurrencyError,
          `the loser gets ConcurrencyError, got ${String(lost[0].reason)}`,
        );
        assert.equal((lost[0].reason as ConcurrencyError).actual, 2);
        assert.equal(await store.streamVersion(s), 2);
      }
    },
    timeout,
  );

  it(
    'treats many concurrent appends through one instance as if they ran one after another',
    async () => {
      const store = ctx.store;
      const s = stream('burst');
      await store.append(s, 'no-stream', [contractEvent(s, campaign, 'seed')]);
      const head = await store.headPosition();
      const shared = contractEvent(s, campaign, 'shared id');
      const commandId = `cmd-${suffix()}`;
      const calls = [
        ...Array.from({ length: 8 }, (_, i) => store.append(s, 1, [contractEvent(s, campaign, `same-version-${i}`)])),
        store.append(s, 'any', [shared]),
        store.append(s, 'any', [{ ...shared }]),
        store.append(s, 'any', [contractEvent(s, campaign, 'cmd')], { commandId }),
        store.append(s, 'any', [contractEvent(s, campaign, 'cmd again')], { commandId }),
      ];
      const out = await Promise.allSettled(calls);
      const sameVersion = out.slice(0, 8);
      assert.equal(
        sameVersion.filter((o) => o.status === 'fulfilled').length,
        1,
        'one of the same-version appends wins',
      );
      for (const o of sameVersion) if (o.status === 'rejected') assert.ok(o.reason instanceof ConcurrencyError);
      const [idA, idB] = out.slice(8, 10);
      assert.equal([idA, idB].filter((o) => o.status === 'fulfilled').length, 1, 'an event id is stored once');
      const refused = [idA, idB].find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
      assert.equal((refused.reason as DomainError).code, 'DUPLICATE_EVENT_ID');
      const [c1, c2] = out.slice(10) as PromiseFulfilledResult<Awaited<ReturnType<EventStore['append']>>>[];
      assert.equal(c1.status, 'fulfilled');
      assert.equal(c2.status, 'fulfilled');
      assert.deepEqual([c1.value.duplicate, c2.value.duplicate].sort(), [false, true]);
      assert.deepEqual(c1.value.positions, c2.value.positions);
      const read = await store.readStream(s);
      assert.equal(read.length, 4);
      assert.deepEqual(
        read.map((e) => e.streamVersion),
        [1, 2, 3, 4],
      );
      assert.equal(await store.headPosition(), head + 3);
      const all = await store.readAll({ fromPosition: head });
      assert.deepEqual(
        all.map((e) => e.position),
        [head + 1, head + 2, head + 3],
      );
    },
    timeout,
  );

  it(
    'reads all in position order, from an exclusive position, with limit, campaign and type filters',
    async () => {
      const store = ctx.store;
      const camp = `c${suffix()}`;
      const otherCamp = `c${suffix()}`;
      const from = await store.headPosition();
      const a = stream('all-a');
      const b = stream('all-b');
      await store.append(a, 'no-stream', [contractEvent(a, camp, '1')]);
      await store.append(b, 'no-stream', [contractEvent(b, otherCamp, '2')]);
      await store.append(a, 1, [
        createEvent(CampaignResumed, {}, { campaignId: camp, streamId: a, source: 'orchestrator' }),
      ]);
      await store.append(b, 1, [contractEvent(b, otherCamp, '4')]);
      const all = await store.readAll({ fromPosition: from });
      assert.deepEqual(
        all.map((e) => e.position),
        [from + 1, from + 2, from + 3, from + 4],
      );
      assert.deepEqual(
        all.map((e) => e.streamId),
        [a, b, a, b],
      );
      assert.deepEqual(
        (await store.readAll({ fromPosition: from + 1, limit: 2 })).map((e) => e.position),
        [from + 2, from + 3],
      );
      assert.deepEqual(
        (await store.readAll({ fromPosition: from, campaignId: camp })).map((e) => e.position),
        [from + 1, from + 3],
      );
      assert.deepEqual(
        (await store.readAll({ fromPosition: from, types: ['CampaignResumed'] })).map((e) => e.position),
        [from + 3],
      );
      assert.deepEqual(
        (await store.readAll({ fromPosition: from, campaignId: otherCamp, types: ['CampaignPaused'], limit: 1 })).map(
          (e) => e.position,
        ),
        [from + 2],
      );
      assert.deepEqual(await store.readAll({ fromPosition: from + 4 }), []);
      const everything = await store.readAll();
      assert.ok(everything.length >= 4);
      everything.forEach((e, i) => assert.equal(e.position, i + 1, 'positions are gap-free from 1'));
    },
    timeout,
  );

  it(
    'applies a command once: a retried commandId returns the first result and writes nothing',
    async () => {
      const store = ctx.store;
      const s = stream('idem');
      const commandId = `cmd-${suffix()}`;
      const first = await store.append(s, 'no-stream', [contractEvent(s, campaign, 'once')], {
        commandId,
        commandResult: { round: 7 },
      });
      assert.equal(first.duplicate, false);
      assert.deepEqual(first.commandResult, { round: 7 });
      const head = await store.headPosition();
      // The retry even carries a stale expected version and different events: the recorded outcome wins.
      const again = await store.append(s, 'no-stream', [contractEvent(s, campaign, 'twice')], {
        commandId,
        commandResult: { round: 8 },
      });
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.positions, first.positions);
      assert.equal(again.nextExpectedVersion, first.nextExpectedVersion);
      assert.deepEqual(again.commandResult, { round: 7 });
      assert.equal(await store.headPosition(), head);
      assert.equal(await store.streamVersion(s), 1);
      if (store.commandOutcome) {
        assert.deepEqual(await store.commandOutcome(commandId), again);
        assert.equal(await store.commandOutcome(`cmd-${suffix()}`), null);
      }
      // Concurrent retries of one new command: one write in total.
      const other = await another();
      const raceId = `cmd-${suffix()}`;
      const r = stream('idem-race');
      const results = await Promise.all([
        store.append(r, 'any', [contractEvent(r, campaign)], { commandId: raceId }),
        other.append(r, 'any', [contractEvent(r, campaign)], { commandId: raceId }),
        store.append(r, 'any', [contractEvent(r, campaign)], { commandId: raceId }),
      ]);
      assert.equal(results.filter((x) => !x.duplicate).length, 1);
      assert.equal(await store.streamVersion(r), 1);
      // A command that decided nothing is still recorded.
      const noop = `cmd-${suffix()}`;
      const empty = await store.append(r, 1, [], { commandId: noop });
      assert.deepEqual(empty.positions, []);
      assert.equal((await store.append(r, 1, [], { commandId: noop })).duplicate, true);
    },
    timeout,
  );

  it(
    'rejects bad events with a DomainError naming the field, and writes nothing',
    async () => {
      const store = ctx.store;
      const s = stream('bad');
      await store.append(s, 'no-stream', [contractEvent(s, campaign)]);
      const head = await store.headPosition();
      const good = contractEvent(s, campaign);
      const badData = { ...contractEvent(s, campaign), data: { reason: 42 } };
      const err = await rejectsWith(store.append(s, 1, [good, badData as EventEnvelope]), DomainError);
      assert.ok(
        err.issues.some((i) => i.path === 'events.1.data.reason'),
        JSON.stringify(err.issues),
      );
      const unknownType = { ...contractEvent(s, campaign), type: 'NothingHappened' };
      const err2 = await rejectsWith(store.append(s, 1, [unknownType]), DomainError);
      assert.ok(
        err2.issues.some((i) => i.path === 'events.0.type'),
        JSON.stringify(err2.issues),
      );
      const wrongStream = contractEvent(stream('elsewhere'), campaign);
      const err3 = await rejectsWith(store.append(s, 1, [wrongStream]), DomainError);
      assert.ok(
        err3.issues.some((i) => i.path === 'events.0.streamId'),
        JSON.stringify(err3.issues),
      );
      const err4 = await rejectsWith(store.append(s, 1, [good, { ...good }]), DomainError);
      assert.ok(
        err4.issues.some((i) => i.path === 'events.1.id'),
        JSON.stringify(err4.issues),
      );
      const stored = (await store.readStream(s))[0];
      const err5 = await rejectsWith(store.append(s, 1, [envelopeOf(stored)]), DomainError);
      assert.equal(err5.code, 'DUPLICATE_EVENT_ID');
      await rejectsWith(store.append('bad stream id!', 'any', []), DomainError);
      await rejectsWith(store.append(s, -1 as number, [good]), DomainError);
      await rejectsWith(store.append(s, 1, [good], { commandId: '' }), DomainError);
      assert.equal(await store.headPosition(), head);
      assert.equal(await store.streamVersion(s), 1);
      // The refused batch did not consume the stream version or the event id.
      await store.append(s, 1, [good]);
      assert.equal(await store.streamVersion(s), 2);
    },
    timeout,
  );
}
