import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { SubstrateWorkflow, substrateStreamId } from '../src/app/substrate-workflow';
import { DEFAULT_GC_POLICY } from '../src/domain/substrate';
import { removeTree } from '../src/fs/snapshot-store';
import { campaignStarted } from './events';

/**
 * The workflow against the real PostgreSQL event store and a real file system (no transport): registers the suite's
 * beforeAll/afterAll; `ctx` holds the store, the temporary directory (with a substrate fixture at `substrate/`) and
 * the workflow from then on.
 */
export function workflowOnPostgres() {
  const ctx = {} as { db: TestDb; store: PostgresEventStore; tmp: string; wf: SubstrateWorkflow };
  let n = 0;

  beforeAll(async () => {
    ctx.db = await createTestDb();
    ctx.store = await PostgresEventStore.open({ connectionString: ctx.db.url, schema: ctx.db.schema, poolSize: 4 });
    ctx.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-wf-'));
    writeSubstrateFixture(path.join(ctx.tmp, 'substrate'));
    const config = { home: path.join(ctx.tmp, 'home'), substrateRoot: ctx.tmp, gc: DEFAULT_GC_POLICY };
    ctx.wf = new SubstrateWorkflow(ctx.store, config);
  });
  afterAll(async () => {
    await ctx.store?.close();
    await ctx.db?.drop();
    if (ctx.tmp) removeTree(ctx.tmp);
  });

  const append = async (...events: EventEnvelope[]) => {
    for (const e of events) await ctx.store.append(e.streamId, 'any', [e]);
  };
  const ours = async (campaignId: string, type?: string) =>
    (await ctx.store.readStream(substrateStreamId(campaignId))).filter((e) => type === undefined || e.type === type);
  const newCampaign = async (standingRecipe: Record<string, unknown> = {}, substratePath = 'substrate') => {
    const id = `camp-${++n}`;
    await append(campaignStarted(id, substratePath, standingRecipe));
    return id;
  };
  return { ctx, append, ours, newCampaign };
}
