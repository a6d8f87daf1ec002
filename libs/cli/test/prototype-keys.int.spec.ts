import * as fc from 'fast-check';
import { contentHash, createEvent, PolicyRevised, type EventEnvelope, type RollingPolicy } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { sampleCampaignLog } from '@aevo/projections';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { runCli } from '../src';

jest.setTimeout(180_000);

// Valid campaign ids (slugs) that are also Object.prototype members, and keys no campaign can have but a user can type.
const CAMPAIGNS = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
const UNKNOWN = ['__proto__', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__'];

/** A second policy revision whose standing recipe has keys named after prototype members. */
function revised(log: EventEnvelope[], campaignId: string): EventEnvelope {
  const initial = (log.find((e) => e.type === 'CampaignStarted')?.data as { initialPolicy: RollingPolicy })
    .initialPolicy;
  const policy = {
    ...initial,
    revision: 1,
    forRound: 2,
    standingRecipe: { ...initial.standingRecipe, valueOf: 3, hasOwnProperty: { toString: 1 } },
  } as RollingPolicy;
  return createEvent(
    PolicyRevised,
    {
      round: 1,
      policy,
      policySha256: contentHash(policy),
      previousRevision: 0,
      evidenceSha256: 'b'.repeat(64),
      constitutionSha256: 'c'.repeat(64),
      changes: [],
      proposer: 'rules',
      llm: null,
    },
    { campaignId, streamId: `campaign-${campaignId}`, source: 'meta-policy' },
  ) as EventEnvelope;
}

describe('CLI views with campaign ids named after Object.prototype members', () => {
  let db: TestDb;
  let store: PostgresEventStore;

  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(args, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema },
      openStore: (env) =>
        PostgresEventStore.open({
          connectionString: env.AEVO_DATABASE_URL as string,
          schema: env.AEVO_DB_SCHEMA,
          poolSize: 2,
        }),
    });
    return { code, out, err };
  };

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    for (const [i, id] of CAMPAIGNS.entries()) {
      const log = sampleCampaignLog({ campaignId: id, seed: i + 1, rounds: 1, candidatesPerRound: 2 });
      for (const e of [...log, revised(log, id)]) await store.append(e.streamId, 'any', [e]);
    }
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('list, show, diff and replay every campaign; unknown prototype names are "no such campaign"', async () => {
    const list = await run(['campaign', 'status', '--json']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.out[0]) as Array<{ campaignId: string }>).map((r) => r.campaignId).sort()).toEqual(
      [...CAMPAIGNS].sort(),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...CAMPAIGNS),
        fc.constantFrom('status', 'status-json', 'show', 'show-json', 'diff'),
        async (id, view) => {
          const args = {
            status: ['campaign', 'status', id],
            'status-json': ['campaign', 'status', id, '--json'],
            show: ['policy', 'show', id],
            'show-json': ['policy', 'show', id, '--json'],
            diff: ['policy', 'diff', id],
          }[view];
          const r = await run(args);
          expect(r.err).toEqual([]);
          expect(r.code).toBe(0);
          if (view === 'status') expect(r.out[0]).toContain(`campaign ${id}  completed`);
          if (view === 'status-json')
            expect(JSON.parse(r.out.join('\n'))).toMatchObject({ campaignId: id, status: 'completed' });
          if (view === 'show') expect(r.out[0]).toMatch(/^policy revision 1 /);
          if (view === 'show-json')
            expect(JSON.parse(r.out.join('\n')).standingRecipe).toMatchObject({
              valueOf: 3,
              hasOwnProperty: { toString: 1 },
            });
          if (view === 'diff')
            expect(r.out).toEqual(
              expect.arrayContaining([
                '  - standing recipe: valueOf set to 3',
                '  - standing recipe: hasOwnProperty.toString set to 1',
              ]),
            );
        },
      ),
      { numRuns: 15 },
    );
    for (const id of UNKNOWN) {
      for (const args of [
        ['campaign', 'status', id],
        ['policy', 'show', id],
        ['policy', 'diff', id],
      ]) {
        const r = await run(args);
        expect(r.code).toBe(2);
        expect(r.err.join('\n')).toContain(`no campaign "${id}"`);
      }
    }
    const audit = await run(['audit', 'replay', '--verify']);
    expect(audit.err.join('\n')).not.toMatch(/TypeError|is not a function|Cannot read/);
    expect(audit.code).toBe(0);
  });
});
