import { replayDetailed, type ReplayReport } from '@aevo/projections';
import { KurrentDbProtocolFake } from '../../libs/eventstore/src/kurrentdb/testing/protocol-fake';
import { auditRegistry, jsonDiff } from '../chaos/harness/verdict';
import { expectAuditVerifies, expectCompletedCampaign } from './assertions';
import { E2eControlPlane } from './harness';

/**
 * Issue 18's acceptance: the same small campaign on the simulated substrate, run end to end through `aevo up` and the
 * `aevo` binary once on PostgreSQL and once with AEVO_EVENT_STORE=kurrentdb against the protocol-level fake (a
 * loopback gRPC server this test runs; every service, the all-stream relay and the CLI reach it through the real
 * client), must replay to the same projection hashes.
 *
 * What is compared: the decision-level projections the chaos suite compares (test/chaos/harness/verdict.ts,
 * auditRegistry) — campaigns, rounds, candidates, trajectory, event-counts, round-evidence and policy-history — i.e.
 * the candidates, their recipes' changes, dev scores,
 * checkpoint selections, submissions and public scores, promotions, policy revisions and the evidence hashes they
 * quote. Two runs agree there only because nothing measured enters a decision: AEVO_CPU_SLOT_WEIGHT=0 charges CPU
 * slots no GPU-seconds (wall time would otherwise enter the manifests' cost, the round evidence's budget section and
 * so evidenceSha256, which rounds and policy-history quote; test/chaos/README.md, *Measured time*), the board secret
 * is fixed, the collector writes no prose and no LLM is configured. What is not compared, because it differs between
 * any two runs on the same store too: event ids, times and `$all`/table positions (the order in which concurrent
 * streams interleave), hence the hash chains; and the `jobs` projection, which is operational (`deterministic:
 * false`: a job's id and attempts depend on timing and redeliveries). The projections above hold none of those.
 */
const ID = 'e2e-kdb';
const ROUNDS = 2;
const WORKERS = 2;
const QUOTA = 1;

const DECISIONS_ONLY: NodeJS.ProcessEnv = {
  AEVO_LOCAL_SLOTS: '2',
  AEVO_ORCHESTRATOR_TICK_MS: '2000',
  AEVO_COLLECTOR_TICK_MS: '2000',
  AEVO_LEADERBOARD_SECRET: 'e2e-kurrentdb-board-secret-0001',
  AEVO_CPU_SLOT_WEIGHT: '0',
  AEVO_COLLECTOR_PROSE: 'off',
  ANTHROPIC_API_KEY: '',
};

async function runCampaign(plane: E2eControlPlane): Promise<void> {
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
  const watch = await plane.cli(['campaign', 'watch', ID, '--interval', '500', '--timeout', '540'], 600_000);
  if (watch.code !== 0)
    throw new Error(`watch exited ${watch.code}\n${watch.stdout.slice(-4000)}\n${watch.stderr}\n${plane.logTails()}`);
  expect(watch.stdout).toMatch(new RegExp(`completed \\(rounds-exhausted\\) after ${ROUNDS} round\\(s\\)`));
  await expectCompletedCampaign(plane, ID, ROUNDS, WORKERS, QUOTA);
}

const hashes = (r: ReplayReport) => Object.fromEntries(r.projections.map((p) => [p.name, p.hash]));

describe('e2e: the same simulated campaign on PostgreSQL and on KurrentDB (protocol-level fake)', () => {
  const onPostgres = new E2eControlPlane();
  const onKurrentDb = new E2eControlPlane();
  let fake: KurrentDbProtocolFake;

  beforeAll(async () => {
    fake = await KurrentDbProtocolFake.start();
    // One after the other: starting twenty services at once can starve a nats-server's start on a loaded machine.
    await onPostgres.start(DECISIONS_ONLY);
    await onKurrentDb.start(DECISIONS_ONLY, [], {
      kurrentdb: { connectionString: fake.connectionString, namespace: 'e2e' },
    });
  }, 600_000);

  afterAll(async () => {
    const codes = await Promise.all([onPostgres.stop(), onKurrentDb.stop()]);
    await fake?.stop();
    expect(codes).toEqual([0, 0]);
  }, 180_000);

  it('completes on both stores, replays to the same projection hashes, and audits on KurrentDB', async () => {
    // Both campaigns at once: each plane has its own schema, nats-server, stream and home, and a campaign waits on
    // its services' ticks more than on the CPU.
    await Promise.all([runCampaign(onPostgres), runCampaign(onKurrentDb)]);

    const registry = auditRegistry();
    const pg = await replayDetailed(onPostgres.store, { registry });
    const kdb = await replayDetailed(onKurrentDb.store, { registry });
    const differences = pg.projections.flatMap((p) => {
      const other = kdb.projections.find((x) => x.name === p.name);
      if (other?.hash === p.hash) return [];
      return [`${p.name}:`, ...jsonDiff(p.snapshot, other?.snapshot, 8).map((d) => `  ${d} (postgres ≠ kurrentdb)`)];
    });
    expect(differences).toEqual([]);
    expect(hashes(kdb)).toEqual(hashes(pg));
    expect(Object.keys(hashes(pg)).sort()).toEqual(
      ['campaigns', 'candidates', 'event-counts', 'policy-history', 'round-evidence', 'rounds', 'trajectory'].sort(),
    );
    // The KurrentDB log really is the campaign (not an empty store agreeing with nothing).
    expect(kdb.events).toBeGreaterThan(0);
    expect(fake.stats.appends).toBeGreaterThan(0);

    // The audit through the binary against the KurrentDB store: chain, claims, two replays, recorded hashes.
    await expectAuditVerifies(onKurrentDb, ROUNDS);
  });
});
