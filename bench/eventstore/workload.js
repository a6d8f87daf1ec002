'use strict';
/** The workload of bench/eventstore/run.js: the events it appends, how writers share them, and the replay it times. */
const { createEvent, CampaignPaused, CampaignResumed, WorkerFailed, MessageDeadLettered } = require('@aevo/contracts');

const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (n) => Math.round(n).toLocaleString('en-US');

/** A realistic mix of small events for campaign `c`, stream `s`. */
function makeEvent(i, campaignId, streamId) {
  const ctx = { campaignId, streamId, source: 'orchestrator' };
  switch (i % 4) {
    case 0:
      return createEvent(CampaignPaused, { reason: `operator pause #${i} while the round settles` }, ctx);
    case 1:
      return createEvent(CampaignResumed, {}, ctx);
    case 2:
      return createEvent(
        WorkerFailed,
        {
          candidateId: `${campaignId}-r1-c${i % 16}`,
          round: 1 + (i % 5),
          reason: 'train exited with code 3 (DIVERGED)',
          step: i % 300,
        },
        { ...ctx, source: 'worker' },
      );
    default:
      return createEvent(
        MessageDeadLettered,
        {
          stream: 'AEVO_EVENTS',
          consumer: 'worker__CandidateForked',
          subject: `aevo.evt.${campaignId}.CandidateForked`,
          streamSequence: i,
          deliveries: 5,
          eventId: null,
          eventType: 'CandidateForked',
          error: 'handler timed out',
        },
        { ...ctx, source: 'platform' },
      );
  }
}

/**
 * `total` events split over `writers` concurrent writers, each appending `batch` events per call to its own streams.
 */
function plan(total, writers, batch, tag, campaigns = 8) {
  const perWriter = [];
  let i = 0;
  for (let w = 0; w < writers; w++) {
    const calls = [];
    const share = Math.floor(total / writers) + (w < total % writers ? 1 : 0);
    for (let n = 0; n < share; n += batch) {
      const k = Math.min(batch, share - n);
      const streamId = `campaign-${tag}-w${w}-s${calls.length % 4}`;
      const campaignId = `camp-${(w + calls.length) % campaigns}`;
      calls.push({ streamId, events: Array.from({ length: k }, () => makeEvent(i++, campaignId, streamId)) });
    }
    perWriter.push(calls);
  }
  return perWriter;
}

async function runWriters(perWriter, fn) {
  await Promise.all(
    perWriter.map(async (calls) => {
      for (const c of calls) await fn(c);
    }),
  );
}

/** Projections folded during replay: count per type, per-campaign summary, per-stream last version. */
function foldProjections(events) {
  const perType = new Map();
  const perCampaign = new Map();
  const streams = new Map();
  for (const e of events) {
    perType.set(e.type, (perType.get(e.type) ?? 0) + 1);
    let c = perCampaign.get(e.campaignId);
    if (!c)
      perCampaign.set(
        e.campaignId,
        (c = { events: 0, firstTime: e.time, lastTime: e.time, lastPosition: 0, failures: 0, paused: false }),
      );
    c.events++;
    c.lastTime = e.time;
    c.lastPosition = e.position;
    if (e.type === 'WorkerFailed') c.failures++;
    if (e.type === 'CampaignPaused') c.paused = true;
    if (e.type === 'CampaignResumed') c.paused = false;
    streams.set(e.streamId, e.streamVersion);
  }
  return { perType, perCampaign, streams };
}

async function replay(store, total) {
  const t0 = now();
  let after = 0;
  let count = 0;
  const state = { perType: new Map(), perCampaign: new Map(), streams: new Map() };
  for (;;) {
    const page = await store.readAll({ fromPosition: after, limit: 10_000 });
    if (page.length === 0) break;
    const p = foldProjections(page);
    for (const [k, v] of p.perType) state.perType.set(k, (state.perType.get(k) ?? 0) + v);
    for (const [k, v] of p.perCampaign) {
      const c = state.perCampaign.get(k);
      if (!c) state.perCampaign.set(k, v);
      else
        Object.assign(c, {
          events: c.events + v.events,
          lastTime: v.lastTime,
          lastPosition: v.lastPosition,
          failures: c.failures + v.failures,
          paused: v.paused,
        });
    }
    for (const [k, v] of p.streams) state.streams.set(k, v);
    count += page.length;
    after = page[page.length - 1].position;
  }
  const ms = now() - t0;
  if (count < total) throw new Error(`replay read ${count} events, expected ${total}`);
  return { ms, count, types: state.perType.size, campaigns: state.perCampaign.size, streams: state.streams.size };
}

module.exports = { now, sleep, fmt, makeEvent, plan, runWriters, replay };
