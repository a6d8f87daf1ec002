import 'reflect-metadata';
import fc from 'fast-check';
import { MAX_CAMPAIGN_ID_LENGTH, StartCampaign } from '@aevo/contracts';
import { orchestratorReplicas } from './orchestrator-replicas';

jest.setTimeout(180_000);

describe('orchestrator replicas answering malformed commands', () => {
  const { ctx, campaignPayload } = orchestratorReplicas();

  it('answers 1,000 generated malformed commands with structured errors, changes nothing, and stays up', async () => {
    const head = await ctx.store.headPosition();
    const validRound = {
      commandId: 'cmd-valid-round-0001',
      name: 'StartRound',
      payload: { campaignId: 'camp-a', round: 1 },
    };
    const validCampaign = {
      commandId: 'cmd-valid-campaign-01',
      name: 'StartCampaign',
      payload: campaignPayload('camp-fuzz'),
    };
    // Each mutation breaks one field in a way the schema must name; no generated value is valid where it is put.
    const badValue = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.double().filter((x) => !Number.isInteger(x)),
      fc.constantFrom('', ' ', 'a.b', '*', '>'),
      fc.array(fc.integer(), { maxLength: 2 }),
      fc.constant({}),
    );
    const mutate = (base: object, paths: string[], value: fc.Arbitrary<unknown>) =>
      fc.record({ base: fc.constant(base), path: fc.constantFrom(...paths), value });
    const mutation = fc.oneof(
      mutate(validRound, ['commandId', 'name', 'payload', 'payload.campaignId', 'payload.round'], badValue),
      mutate(
        validRound,
        ['commandId', 'name', 'payload', 'payload.campaignId', 'payload.round'],
        fc.constant(undefined),
      ),
      mutate(
        validCampaign,
        [
          'payload.campaignId',
          'payload.rounds',
          'payload.workersPerRound',
          'payload.axes',
          'payload.seed',
          'payload.budgets',
          'payload.budgets.submissionsPerRound',
        ],
        badValue,
      ),
      mutate(
        validCampaign,
        ['commandId', 'payload.substratePath', 'payload.rounds', 'payload.budgets'],
        fc.constant(undefined),
      ),
      // Valid Slugs, too long for the ids derived from them.
      mutate(
        validCampaign,
        ['payload.campaignId'],
        fc.integer({ min: MAX_CAMPAIGN_ID_LENGTH + 1, max: 120 }).map((n) => 'c'.repeat(n)),
      ),
      mutate(validRound, ['surplus', 'payload.surplus'], fc.jsonValue({ maxDepth: 2 })),
      mutate(validCampaign, ['surplus', 'payload.surplus', 'payload.budgets.surplus'], fc.jsonValue({ maxDepth: 2 })),
    );
    const setPath = (obj: unknown, p: string, value: unknown) => {
      const copy = JSON.parse(JSON.stringify(obj)) as Record<string, unknown>;
      const keys = p.split('.');
      let o = copy;
      for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
      if (value === undefined) delete o[keys[keys.length - 1]];
      else o[keys[keys.length - 1]] = value;
      return copy;
    };
    const notJson = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    });
    const malformed = fc.oneof(
      {
        weight: 6,
        arbitrary: mutation.map((m) => ({
          kind: 'mutation' as const,
          subject: (m.base as { name: string }).name,
          body: setPath(m.base, m.path, m.value),
          path: m.path,
        })),
      },
      {
        weight: 2,
        arbitrary: notJson.map((s) => ({ kind: 'text' as const, subject: 'StartRound', body: s, path: '(root)' })),
      },
      {
        weight: 2,
        arbitrary: fc
          .jsonValue({ maxDepth: 3 })
          .map((v) => ({ kind: 'json' as const, subject: 'StartCampaign', body: v, path: null })),
      },
    );
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(malformed, async (m) => {
        const reply = await ctx.client.sendRaw(
          m.subject,
          m.kind === 'text' ? (m.body as string) : JSON.stringify(m.body),
        );
        checked++;
        expect(reply.ok).toBe(false);
        if (reply.ok) return;
        expect(['INVALID_JSON', 'INVALID_COMMAND']).toContain(reply.error.code);
        expect(reply.error.message.length).toBeGreaterThan(0);
        expect(reply.error.issues.length).toBeGreaterThan(0);
        for (const i of reply.error.issues) {
          expect(typeof i.path).toBe('string');
          expect(i.message.length).toBeGreaterThan(0);
        }
        if (m.kind === 'mutation') {
          const named = reply.error.issues.map((i) => i.path);
          const parent = m.path.split('.').slice(0, -1).join('.');
          // A surplus key is reported on the object holding it; a wrong object is reported at or below its path.
          const expected = m.path.endsWith('surplus') ? (parent === '' ? '(root)' : parent) : m.path;
          expect(named.some((p) => p === expected || p.startsWith(`${expected}.`))).toBe(true);
        }
        if (m.kind === 'text') expect(reply.error.code).toBe('INVALID_JSON');
      }),
      { numRuns: 1000 },
    );
    expect(checked).toBe(1000);
    expect(await ctx.store.headPosition()).toBe(head);
    const after = await ctx.client.send(StartCampaign, campaignPayload('camp-after-fuzz'));
    expect(after.ok).toBe(true);
  });
});
