import { CommandEnvelope, parseCommand } from './commands';
import { StartCampaign, VerifySandbox } from './commands-catalog';
import { DERIVED_IDS, MAX_CAMPAIGN_ID_LENGTH, Slug, StreamId } from './ids';
import { DomainError } from './errors';

const startPayload = (campaignId: string) => ({
  campaignId,
  substratePath: 'substrate/simulated',
  constitutionPath: 'constitutions/default.yaml',
  rounds: 1000,
  workersPerRound: 512,
  axes: ['learning-rate'],
  seed: 0,
  budgets: { gpuSeconds: 1, llmTokens: 0, submissionsPerRound: 1 },
});
const envelope = (name: string, payload: unknown) => ({ commandId: 'cmd-ids-spec-1', name, payload });

describe('campaign id bound', () => {
  it(
    'keeps every derived id of the longest allowed campaign id within ' +
      'its limit, and one more character breaks one',
    () => {
      const longest = 'c'.repeat(MAX_CAMPAIGN_ID_LENGTH);
      for (const d of DERIVED_IDS)
        expect({ name: d.name, ok: d.of(longest).length <= d.limit }).toEqual({ name: d.name, ok: true });
      expect(DERIVED_IDS.some((d) => d.of(`${longest}c`).length > d.limit)).toBe(true);
      // Through the schemas the derived ids are checked against.
      const byName = (prefix: string) => DERIVED_IDS.find((d) => d.name.startsWith(prefix))!.of(longest);
      for (const p of ['candidate id', 'worker job id', 'evaluation job id', 'predict job id'])
        expect(Slug.safeParse(byName(p)).success).toBe(true);
      for (const p of ['cancel command id', 'unseal command id'])
        expect(CommandEnvelope.shape.commandId.safeParse(byName(p)).success).toBe(true);
      for (const p of ['evaluation stream id', 'collector deadline stream id'])
        expect(StreamId.safeParse(byName(p)).success).toBe(true);
    },
  );

  it(
    'StartCampaign accepts the longest allowed id and refuses a longer one (a valid 120-character Slug) ' +
      'naming the field',
    () => {
      expect(
        parseCommand(StartCampaign.name, envelope(StartCampaign.name, startPayload('c'.repeat(MAX_CAMPAIGN_ID_LENGTH))))
          .payload,
      ).toMatchObject({
        campaignId: 'c'.repeat(MAX_CAMPAIGN_ID_LENGTH),
      });
      expect(Slug.safeParse('c'.repeat(120)).success).toBe(true);
      let err: unknown;
      try {
        parseCommand(StartCampaign.name, envelope(StartCampaign.name, startPayload('c'.repeat(120))));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).issues.map((i) => i.path)).toEqual(['payload.campaignId']);
    },
  );
});

describe('VerifySandbox paths', () => {
  const verify = (paths: string[]) => () =>
    parseCommand(
      VerifySandbox.name,
      envelope(VerifySandbox.name, { campaignId: 'c1', candidateId: 'c1-r1-c0', paths }),
    );
  it.each([['../a/recipe.yaml'], ['/etc/passwd'], ['runs/../../x'], ['runs/..'], ['a\\..\\b'], ['a\0b']])(
    'refuses %j as bad input, naming the field',
    (p) => {
      expect(verify(['runs/ok', p])).toThrow(
        expect.objectContaining({
          code: 'INVALID_COMMAND',
          issues: [expect.objectContaining({ path: 'payload.paths.1' })],
        }),
      );
    },
  );
  it('accepts sandbox-relative paths', () => {
    expect(verify(['runs/seed-1/step-000010', 'runs/seed-1/latest', 'a..b/c'])().payload).toMatchObject({
      paths: ['runs/seed-1/step-000010', 'runs/seed-1/latest', 'a..b/c'],
    });
  });
});
