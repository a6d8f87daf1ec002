import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { PostgresEventStore } from '@aevo/eventstore';
import type { CommandClient, ServiceApp } from '@aevo/messaging';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { startServiceHarness, type ServiceHarness, type TestDb, type TestNatsNames } from '@aevo/testkit';
import { OrchestratorModule } from '../src/orchestrator.module';
import { MAX_INPUT_FILE_BYTES } from '../src/app/campaign-inputs';
import { DEPLOY_ROOT } from '../src/config';

/**
 * Two orchestrator replicas in one queue group on an isolated schema and stream, the fixture substrate as the only
 * substrate root and a constitutions root holding a FIFO and a huge file; registers the suite's beforeAll/afterAll.
 * `ctx` is filled in beforeAll.
 */
export function orchestratorReplicas() {
  const ctx = {} as {
    h: ServiceHarness;
    db: TestDb;
    names: TestNatsNames;
    store: PostgresEventStore;
    substrateDir: string;
    constitutionsDir: string;
    outsideDir: string;
    client: CommandClient;
  };
  // Filled by the harness in beforeAll (the same array: its replicas).
  const replicas: ServiceApp[] = [];

  const campaignPayload = (campaignId: string) => ({
    campaignId,
    substratePath: ctx.substrateDir,
    constitutionPath: 'constitutions/default.yaml',
    rounds: 3,
    workersPerRound: 4,
    axes: ['learning-rate', 'data-mix'],
    anchorSeeds: 2,
    seed: 7,
    budgets: { gpuSeconds: 3600, llmTokens: 0, submissionsPerRound: 2 },
    // These tests start rounds by command; the automatic lifecycle has its own suite.
    roundStart: 'manual' as const,
  });
  const eventsOfType = async (type: string, campaignId?: string) => ctx.store.readAll({ types: [type], campaignId });

  beforeAll(async () => {
    ctx.substrateDir = writeSubstrateFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-substrate-')));
    // The fixture substrate is the only one StartCampaign may read (constitutions: the repository's default root).
    process.env.AEVO_SUBSTRATE_ROOTS = ctx.substrateDir;
    // A second constitution root holding what an operator should never put there: a FIFO and a huge file.
    ctx.constitutionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-constitutions-'));
    execFileSync('mkfifo', [path.join(ctx.constitutionsDir, 'fifo.yaml')]);
    fs.closeSync(fs.openSync(path.join(ctx.constitutionsDir, 'huge.yaml'), 'w'));
    fs.truncateSync(path.join(ctx.constitutionsDir, 'huge.yaml'), MAX_INPUT_FILE_BYTES + 1);
    process.env.AEVO_CONSTITUTION_ROOTS = [path.join(DEPLOY_ROOT, 'constitutions'), ctx.constitutionsDir].join(
      path.delimiter,
    );
    ctx.outsideDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-outside-'));
    fs.writeFileSync(path.join(ctx.outsideDir, 'secret.yaml'), 'topsecretkey: "hunter2-value"\nname: leaked\n');
    execFileSync('mkfifo', [path.join(ctx.outsideDir, 'fifo.yaml')]);
    // Two replicas, each with its own store connection pool (4), in one queue group. No relay: these tests drive the
    // replicas by command only, and nothing they record reaches JetStream.
    ctx.h = await startServiceHarness([OrchestratorModule, OrchestratorModule], {
      service: 'orchestrator',
      harnessRelay: false,
      commandTimeoutMs: 30_000,
    });
    ({ db: ctx.db, names: ctx.names, store: ctx.store, client: ctx.client } = ctx.h);
    replicas.push(...ctx.h.replicas);
  });

  afterAll(async () => {
    delete process.env.AEVO_SUBSTRATE_ROOTS;
    delete process.env.AEVO_CONSTITUTION_ROOTS;
    for (const d of [ctx.constitutionsDir, ctx.outsideDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
    await ctx.h?.close();
    if (ctx.substrateDir) fs.rmSync(ctx.substrateDir, { recursive: true, force: true });
  });

  return { ctx, replicas, campaignPayload, eventsOfType };
}
