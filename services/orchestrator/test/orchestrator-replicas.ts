import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { execFileSync } from 'node:child_process';
import { PostgresEventStore } from '@aevo/eventstore';
import { CommandClient, createServiceApp, type ServiceApp } from '@aevo/messaging';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { createTestDb, createTestNatsNames, type TestDb, type TestNatsNames } from '@aevo/testkit';
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
    db: TestDb;
    names: TestNatsNames;
    store: PostgresEventStore;
    substrateDir: string;
    constitutionsDir: string;
    outsideDir: string;
    client: CommandClient;
  };
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
    ctx.db = await createTestDb();
    ctx.names = createTestNatsNames();
    ctx.store = await PostgresEventStore.open({ connectionString: ctx.db.url, schema: ctx.db.schema });
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
    // Two replicas, each with its own ctx.store connection pool, in one queue group.
    for (let i = 0; i < 2; i++) {
      const replica = await createServiceApp(OrchestratorModule, {
        service: 'orchestrator',
        natsUrl: ctx.names.url,
        subjectPrefix: ctx.names.subjectPrefix,
        stream: ctx.names.stream,
        databaseUrl: ctx.db.url,
        dbSchema: ctx.db.schema,
        openStore: (cfg) =>
          PostgresEventStore.open({ connectionString: cfg.databaseUrl, schema: cfg.dbSchema, poolSize: 4 }),
        logger: ['error'],
      });
      await replica.app.listen();
      replicas.push(replica);
    }
    ctx.client = await CommandClient.connect({
      natsUrl: ctx.names.url,
      subjectPrefix: ctx.names.subjectPrefix,
      timeoutMs: 30_000,
    });
  });

  afterAll(async () => {
    delete process.env.AEVO_SUBSTRATE_ROOTS;
    delete process.env.AEVO_CONSTITUTION_ROOTS;
    for (const d of [ctx.constitutionsDir, ctx.outsideDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
    await ctx.client?.close();
    for (const r of replicas) await r.app.close();
    await ctx.store?.close();
    const nc = await connect({ servers: ctx.names.url });
    await (await jetstreamManager(nc)).streams.delete(ctx.names.stream).catch(() => undefined);
    await nc.close();
    await ctx.db?.drop();
    fs.rmSync(ctx.substrateDir, { recursive: true, force: true });
  });

  return { ctx, replicas, campaignPayload, eventsOfType };
}
