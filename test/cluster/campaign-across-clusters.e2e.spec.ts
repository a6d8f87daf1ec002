// Issue 16, deliverable 5: a campaign run across a control cluster and a compute cluster (cross-cluster-plane.ts:
// hub and leaf nats-servers with JetStream domains `hub` and `c1` and the generated users; control services with
// PostgreSQL on the hub; worker, dispatch and evaluation on the leaf with AEVO_EVENT_STORE=remote and no database
// settings) decides exactly what the same seed decides on one cluster (test/e2e's E2eControlPlane, `aevo up`), and
// a crash of the leaf server mid-round loses and duplicates nothing.
//
// What is compared is what test/e2e/kurrentdb.e2e.spec.ts compares, for the same reasons: the decision-level
// projections (test/chaos/harness/verdict.ts, auditRegistry), with nothing measured entering a decision
// (AEVO_CPU_SLOT_WEIGHT=0, a fixed board secret, no prose, no LLM). Event ids, times, positions and the operational
// `jobs` projection differ between any two runs and are not compared.
//
// Known gap, on purpose: both clusters share one AEVO_HOME, because the artefact store is not wired into the
// services yet; the test proves the NATS side (events, commands, the event store over the leaf), not the files.
import * as fs from 'node:fs';
import { replayDetailed, type ReplayReport } from '@aevo/projections';
import type { EventStore } from '@aevo/eventstore';
import { auditRegistry, jsonDiff } from '../chaos/harness/verdict';
import { expectCompletedCampaign } from '../e2e/assertions';
import { E2eControlPlane } from '../e2e/harness';
import { COMPUTE_SERVICES, CrossClusterPlane } from './cross-cluster-plane';
import { until } from './nats-procs';

const ID = 'e2e-xc';
const ROUNDS = 2;
const WORKERS = 2;
const QUOTA = 1;

const DECISIONS_ONLY: NodeJS.ProcessEnv = {
  AEVO_LOCAL_SLOTS: '2',
  AEVO_ORCHESTRATOR_TICK_MS: '2000',
  AEVO_COLLECTOR_TICK_MS: '2000',
  AEVO_LEADERBOARD_SECRET: 'e2e-xcluster-board-secret-00001',
  AEVO_CPU_SLOT_WEIGHT: '0',
  AEVO_COLLECTOR_PROSE: 'off',
  ANTHROPIC_API_KEY: '',
};

type Plane = E2eControlPlane | CrossClusterPlane;

async function runCampaign(plane: Plane, during?: () => Promise<void>): Promise<void> {
  const start = await plane.cli([
    'campaign',
    'start',
    '--id',
    ID,
    '--substrate',
    'substrate/simulated',
    '--rounds',
    String(ROUNDS),
    '--workers',
    String(WORKERS),
    '--seed',
    '3',
    '--submissions',
    String(QUOTA),
    '--json',
  ]);
  expect({ code: start.code, stderr: start.stderr }).toEqual({ code: 0, stderr: '' });
  const watching = plane.cli(['campaign', 'watch', ID, '--interval', '500', '--timeout', '540'], 600_000);
  await during?.();
  const watch = await watching;
  if (watch.code !== 0)
    throw new Error(`watch exited ${watch.code}\n${watch.stdout.slice(-4000)}\n${watch.stderr}\n${plane.logTails()}`);
  expect(watch.stdout).toMatch(new RegExp(`completed \\(rounds-exhausted\\) after ${ROUNDS} round\\(s\\)`));
  // The assertions read only events, count and store, which both planes have.
  await expectCompletedCampaign(plane as E2eControlPlane, ID, ROUNDS, WORKERS, QUOTA);
}

const hashes = (r: ReplayReport) => Object.fromEntries(r.projections.map((p) => [p.name, p.hash]));

function differences(a: ReplayReport, b: ReplayReport, names: [string, string]): string[] {
  return a.projections.flatMap((p) => {
    const other = b.projections.find((x) => x.name === p.name);
    if (other?.hash === p.hash) return [];
    return [`${p.name}:`, ...jsonDiff(p.snapshot, other?.snapshot, 8).map((d) => `  ${d} (${names[0]} ≠ ${names[1]})`)];
  });
}

/** How many events of each type the campaign recorded. */
async function countsByType(store: EventStore): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of await store.readAll({ campaignId: ID })) counts[e.type] = (counts[e.type] ?? 0) + 1;
  return counts;
}

/** Jobs requested and finished, and what breaks "each job requested once and finished exactly once". */
async function jobLedger(store: EventStore) {
  const requested = (await store.readAll({ campaignId: ID, types: ['JobRequested'] })).map(
    (e) => (e.data as { spec: { jobId: string } }).spec.jobId,
  );
  const finished = (await store.readAll({ campaignId: ID, types: ['JobSucceeded', 'JobFailed', 'JobCancelled'] })).map(
    (e) => (e.data as { jobId: string }).jobId,
  );
  const twice = (ids: string[]) => [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
  return {
    requested: requested.length,
    problems: {
      requestedTwice: twice(requested),
      unfinished: requested.filter((id) => !finished.includes(id)),
      finishedTwice: twice(finished),
      finishedUnrequested: finished.filter((id) => !requested.includes(id)),
    },
  };
}

/** The environment a running process really got (Linux /proc). */
function environOf(pid: number): Record<string, string> {
  const raw = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

describe('e2e across clusters: hub + leaf (JetStream domains hub and c1), compute services without a database', () => {
  const single = new E2eControlPlane();
  const across = new CrossClusterPlane('undisturbed');
  const crashed = new CrossClusterPlane('leaf-crash');
  const timings: Record<string, number> = {};
  let crashedRun: Promise<void> | null = null;

  beforeAll(async () => {
    // One after the other: starting many services at once can starve a nats-server's start on a loaded machine.
    let t = Date.now();
    await single.start(DECISIONS_ONLY);
    timings.startSingle = Date.now() - t;
    t = Date.now();
    await across.start(DECISIONS_ONLY);
    timings.startAcross = Date.now() - t;
    t = Date.now();
    await crashed.start(DECISIONS_ONLY);
    timings.startCrashed = Date.now() - t;
  }, 900_000);

  afterAll(async () => {
    // Every plane is stopped even when another's stop fails; the outcomes are checked after.
    const results = await Promise.allSettled([single.stop(), across.stop(), crashed.stop()]);
    console.log(`campaign-across-clusters timings (ms): ${JSON.stringify(timings)}`);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const [singleCode, ...outcomes] = results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
    expect(singleCode).toBe(0);
    for (const o of outcomes as Array<Record<string, string>>)
      for (const [name, how] of Object.entries(o)) expect(`${name}: ${how}`).toBe(`${name}: code 0`);
  }, 300_000);

  it('gives the compute services no database settings, only the leaf and the remote store', () => {
    for (const plane of [across, crashed])
      for (const name of COMPUTE_SERVICES) {
        const env = environOf(plane.pid(name) as number);
        expect({ name, url: env.AEVO_DATABASE_URL, schema: env.AEVO_DB_SCHEMA }).toEqual({
          name,
          url: undefined,
          schema: undefined,
        });
        expect({ name, store: env.AEVO_EVENT_STORE, domain: env.AEVO_JS_DOMAIN, nats: env.AEVO_NATS_URL }).toEqual({
          name,
          store: 'remote',
          domain: 'c1',
          nats: `nats://127.0.0.1:${plane.leaf.port}`,
        });
        expect(plane.serviceLog(name)).toMatch(/AEVO_EVENT_STORE=remote: no embedded outbox relay/);
      }
  });

  it('completes across clusters with the same decision hashes as on one cluster', async () => {
    // The leaf-crash campaign runs meanwhile (its own plane); the next test checks it.
    const t = Date.now();
    crashedRun = runCampaign(crashed, async () => {
      // Mid-round: once the first job succeeded, the leaf server crashes and comes back on its store 4 s later.
      await until(
        'a JobSucceeded in the leaf-crash campaign',
        async () => {
          return (await crashed.count(ID, 'JobSucceeded')) > 0 ? true : undefined;
        },
        300_000,
      );
      await crashed.crashLeaf(4_000);
      timings.crashAt = Date.now() - t;
    }).then(() => void (timings.campaignCrashed = Date.now() - t));
    crashedRun.catch(() => undefined); // awaited by the next test
    await Promise.all([
      runCampaign(single).then(() => void (timings.campaignSingle = Date.now() - t)),
      runCampaign(across).then(() => void (timings.campaignAcross = Date.now() - t)),
    ]);

    const registry = auditRegistry();
    const one = await replayDetailed(single.store, { registry });
    const two = await replayDetailed(across.store, { registry });
    expect(differences(one, two, ['single cluster', 'across clusters'])).toEqual([]);
    expect(hashes(two)).toEqual(hashes(one));
    expect(Object.keys(hashes(one)).sort()).toEqual(
      ['campaigns', 'candidates', 'event-counts', 'policy-history', 'round-evidence', 'rounds', 'trajectory'].sort(),
    );
    // The compute side really worked through the gateway: its services' appends are in the record.
    expect(await across.count(ID, 'JobSucceeded')).toBeGreaterThan(0);
    expect(await countsByType(across.store)).toEqual(await countsByType(single.store));
  });

  it('completes after the leaf server was killed mid-round: no job lost or duplicated', async () => {
    expect(crashedRun).not.toBeNull();
    await crashedRun; // watch saw CampaignCompleted and expectCompletedCampaign held (one manifest per candidate, …)
    expect(timings.crashAt).toBeGreaterThan(0);
    expect(crashed.leaf.log()).toMatch(/Server is ready[\s\S]*Server is ready/);
    // Why candidates failed, if any did (the known gap below): their failed trace steps.
    const failed = (await crashed.events(ID, ['ManifestSubmitted']))
      .map((e) => e.data as { candidateId: string; manifest: { status: string } })
      .filter((d) => d.manifest.status !== 'completed')
      .map((d) => d.candidateId);
    const errors = (await crashed.events(ID, ['TraceStepRecorded']))
      .map((e) => e.data as { candidateId: string; ok?: boolean })
      .filter((d) => failed.includes(d.candidateId) && d.ok === false)
      .map((d) => JSON.stringify(d).slice(0, 600));
    if (failed.length > 0) console.log(`leaf-crash run, failed: ${failed.join(', ')}\n${errors.join('\n')}`);
    // Every job requested once and finished exactly once, in both runs (the undisturbed one keeps the check honest).
    for (const plane of [across, crashed]) {
      const jobs = await jobLedger(plane.store);
      expect({ plane: plane.label, ...jobs.problems }).toEqual({
        plane: plane.label,
        requestedTwice: [],
        unfinished: [],
        finishedTwice: [],
        finishedUnrequested: [],
      });
      expect(jobs.requested).toBeGreaterThan(0);
    }
  });

  // While the leaf is down a running candidate's tool call (launch_training) cannot reach the store gateway
  // (STORE_UNAVAILABLE, flagged as an outage): the worker lets the outage through instead of answering the agent, the
  // delivery comes again after the link returns and the candidate resumes from its trace — so the same decisions.
  it('decides after a leaf crash what the undisturbed runs decided', async () => {
    await crashedRun;
    const registry = auditRegistry();
    const one = await replayDetailed(single.store, { registry });
    const three = await replayDetailed(crashed.store, { registry });
    const failed = (await crashed.events(ID, ['ManifestSubmitted']))
      .map((e) => (e.data as { manifest: { status: string; reason?: string } }).manifest)
      .filter((m) => m.status !== 'completed');
    expect({ failed, differences: differences(one, three, ['single cluster', 'leaf crash']) }).toEqual({
      failed: [],
      differences: [],
    });
    expect(hashes(three)).toEqual(hashes(one));
    // Every event type as often as undisturbed, except WorkerStarted: a candidate resumed after the outage records
    // the worker session that resumed it (its trace steps are not repeated).
    const { WorkerStarted: resumed, ...crashedCounts } = await countsByType(crashed.store);
    const { WorkerStarted: started, ...undisturbed } = await countsByType(across.store);
    expect(crashedCounts).toEqual(undisturbed);
    expect(resumed).toBeGreaterThanOrEqual(started);
  });
});
