import { contentHash, createEvent, RoundStarted, type EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { CommandClient } from '@aevo/messaging';
import { sampleCampaignLog } from '@aevo/projections';
import { createTestDb, createTestNatsNames, type TestDb } from '@aevo/testkit';
import { bar, optionFor, renderView, replyError, runCli, emptyView, applyView, statusOf, type CliIo } from '../src';

jest.setTimeout(120_000);

/**
 * The control-plane commands that read the store (campaign status/watch, policy show/diff, the recorded-hash
 * audit) on a real PostgreSQL, and the ones that send commands against a real nats-server with nobody answering.
 * Starting campaigns against the running services is covered by test/e2e at the repository root.
 */
describe('aevo campaign / policy / audit on PostgreSQL', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  const names = createTestNatsNames();
  const alpha = sampleCampaignLog({ campaignId: 'alpha', seed: 3, rounds: 2, candidatesPerRound: 3 });

  const run = async (args: string[], extra: Partial<CliIo> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(args, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: {
        AEVO_DATABASE_URL: db.url,
        AEVO_DB_SCHEMA: db.schema,
        AEVO_NATS_URL: names.url,
        AEVO_SUBJECT_PREFIX: names.subjectPrefix,
      },
      openStore: (env) =>
        PostgresEventStore.open({
          connectionString: env.AEVO_DATABASE_URL as string,
          schema: env.AEVO_DB_SCHEMA,
          poolSize: 2,
        }),
      commands: (env) =>
        CommandClient.connect({
          natsUrl: env.AEVO_NATS_URL as string,
          subjectPrefix: env.AEVO_SUBJECT_PREFIX as string,
          timeoutMs: 5_000,
        }),
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))),
      stopSignal: () => new Promise(() => undefined),
      ...extra,
    });
    return { code, out, err, text: out.join('\n'), errText: err.join('\n') };
  };
  const append = async (events: EventEnvelope[]) => {
    for (const e of events) await store.append(e.streamId, 'any', [e]);
  };

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    await append(alpha);
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('lists campaigns and shows one with its rounds, candidates and the dev/LB table', async () => {
    const list = await run(['campaign', 'status']);
    expect(list.code).toBe(0);
    expect(list.text).toMatch(/^alpha\s+completed\s+2\/2\s+0\.\d{3}$/m);
    const one = await run(['campaign', 'status', 'alpha']);
    expect(one.code).toBe(0);
    expect(one.text).toMatch(/^campaign alpha {2}completed/);
    expect(one.text).toMatch(/^round {2}1 {2}█+ 3\/3 candidates {2}closed/m);
    expect(one.text).toMatch(/^round {2}policy {2}anchor dev {2}best dev {2}best LB/m);
    expect(one.text).toMatch(/^completed \(rounds-exhausted\) after 2 round\(s\): best alpha-r\d-c\d/m);
    const json = await run(['campaign', 'status', 'alpha', '--json']);
    expect(JSON.parse(json.out[0])).toMatchObject({ campaignId: 'alpha', status: 'completed' });
  });

  it('watches a campaign as its events arrive and exits 0 when it completes', async () => {
    const log = sampleCampaignLog({ campaignId: 'growing', seed: 4, rounds: 2, candidatesPerRound: 2 });
    const cut = log.findIndex((e) => e.type === 'RoundClosed');
    await append(log.slice(0, cut));
    const watching = run(['campaign', 'watch', 'growing', '--interval', '10']);
    await new Promise((r) => setTimeout(r, 300));
    await append(log.slice(cut));
    const w = await watching;
    expect(w.code).toBe(0);
    // Frames while round 1 was open, then the final one (non-terminal output: one frame per change).
    expect(w.text).toMatch(/round {2}1 {2}█+ 2\/2 candidates {2}(leaderboard|evidence|policy|choosing)/);
    expect(w.text).toMatch(/jobs \d+ running \d+ done \d+ failed/);
    expect(w.out.filter((l) => l.startsWith('campaign growing')).length).toBeGreaterThanOrEqual(2);
    expect(w.text).toMatch(/completed \(rounds-exhausted\)/);
  });

  it('watch gives up on its timeout (exit 3) and names an unknown campaign (exit 2)', async () => {
    await append(
      sampleCampaignLog({ campaignId: 'stuck', seed: 5, rounds: 1 }).filter(
        (e) => e.type === 'CampaignStarted' || e.type === 'RoundStarted',
      ),
    );
    const stuck = await run(['campaign', 'watch', 'stuck', '--interval', '10', '--timeout', '1']);
    expect(stuck.code).toBe(3);
    expect(stuck.text).toMatch(/did not end within 1 s/);
    const unknown = await run(['campaign', 'watch', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.errText).toMatch(/<campaign>: no campaign "nope"/);
  });

  it('shows and diffs policy revisions, naming a missing revision', async () => {
    const show = await run(['policy', 'show', 'alpha']);
    expect(show.code).toBe(0);
    expect(show.text).toMatch(/^policy revision 0 \(for round 1\)/);
    expect(show.text).toMatch(/Don't waste budget on:/);
    expect(show.text).toMatch(/standing recipe:/);
    expect(show.text).toMatch(/awaiting confirmation:\n {2}\(none\)\ndecoupling hypotheses:\n {2}\(none\)/);
    const json = await run(['policy', 'show', 'alpha', '--json']);
    expect(JSON.parse(json.out.join('\n'))).toMatchObject({ revision: 0, forRound: 1 });
    const diff = await run(['policy', 'diff', 'alpha', '--from', '0', '--to', '0']);
    expect(diff.code).toBe(0);
    expect(diff.out[0]).toBe('policy revision 0 → 0: 0 change(s)');
    const missing = await run(['policy', 'diff', 'alpha', '--to', '7']);
    expect(missing.code).toBe(2);
    expect(missing.errText).toMatch(/--to: revision 7 is not recorded \(have 0\)/);
    const bad = await run(['policy', 'show', 'alpha', '--revision', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.errText).toMatch(/--revision: expected an integer >= 0, got "x"/);
  });

  it('audit replay --verify fails when an event records a hash the log does not reproduce', async () => {
    const clean = await run(['audit', 'replay', '--verify']);
    expect(clean.code).toBe(0);
    expect(clean.text).toMatch(/verified: \d+ hash\(es\) recorded in events/);
    const [started] = sampleCampaignLog({ campaignId: 'tampered', seed: 6, rounds: 1 });
    const real = (started.data as { initialPolicy: object }).initialPolicy;
    const lying = createEvent(
      RoundStarted,
      {
        round: 1,
        policyRevision: 0,
        policySha256: contentHash({ ...real, rationale: 'something else' }),
        seed: 1,
        candidates: [{ candidateId: 'tampered-r1-c0', index: 0, axis: 'baseline', isAnchor: true, seeds: [1] }],
      },
      { campaignId: 'tampered', streamId: 'campaign-tampered', source: 'orchestrator' },
    );
    await append([started, lying]);
    const caught = await run(['audit', 'replay', '--verify']);
    expect(caught.code).toBe(1);
    expect(caught.errText).toMatch(/MISMATCH tampered: RoundStarted 1 policySha256 \(revision 0\)/);
    const skip = await run(['audit', 'replay', '--verify', '--no-recorded']);
    expect(skip.code).toBe(0);
  });

  it('refuses bad campaign options naming each, before anything is sent', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--rounds', '0'], /--rounds: expected a positive integer, got "0"/],
      [['--workers', 'many'], /--workers: expected a positive integer, got "many"/],
      [['--axes', 'learning-rate,teleport'], /--axes: unknown value\(s\) teleport/],
      [['--gpu-seconds', '-5'], /--gpu-seconds: expected a positive number, got "-5"/],
      [['--worker-kind', 'robot'], /--worker-kind <kind>' argument 'robot' is invalid/],
      [
        ['--id', 'has space', '--substrate', '/no/such/substrate'],
        /--id: expected letters.*; --substrate: \/no\/such\/substrate does not exist/,
      ],
      [['--size', ''], /--size: /],
      // Refused from its end-of-life day (2026-11-30) on, by the table the installed SDK's deprecation list backs.
      [
        ['--model', 'claude-sonnet-4-5'],
        /--model: Claude model claude-sonnet-4-5 was retired on 2026-11-30; use a current one, e.g. claude-sonnet-5-5/,
      ],
      [['--model', 'claude-test'], /--model: unknown Claude model "claude-test" \(the installed SDK knows: /],
      [['--frobnicate'], /unknown option '--frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const r = await run(['campaign', 'start', ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.errText).toMatch(message);
    }
  });

  it('says the control plane is not running when no service answers (exit 3)', async () => {
    const r = await run(['campaign', 'pause', 'alpha']);
    expect(r.code).toBe(3);
    expect(r.errText).toMatch(/PauseCampaign: NO_RESPONDERS .* Is the control plane running \(aevo up\)/);
    const start = await run(['campaign', 'start', '--id', 'x1', '--substrate', 'substrate/simulated']);
    expect(start.code).toBe(3);
    const unreachable = await run(['campaign', 'resume', 'alpha'], {
      env: {
        AEVO_DATABASE_URL: db.url,
        AEVO_DB_SCHEMA: db.schema,
        AEVO_NATS_URL: 'nats://127.0.0.1:1',
        AEVO_SUBJECT_PREFIX: 'x',
      },
    });
    expect(unreachable.code).toBe(3);
    expect(unreachable.errText).toMatch(/cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
  });
});

describe('reply errors and the view, pure', () => {
  it('maps refusals to exit codes and names options', () => {
    const refusal = (code: string, path: string) => ({
      ok: false as const,
      commandId: 'c',
      error: { code, message: 'm', issues: [{ path, message: 'bad' }] },
    });
    const input = replyError('StartCampaign', refusal('INVALID_CAMPAIGN_INPUTS', 'payload.substratePath'));
    expect(input.constructor.name).toBe('UsageError');
    expect(input.message).toMatch(/--substrate: bad/);
    const state = replyError('PauseCampaign', refusal('CAMPAIGN_ENDED', 'payload.campaignId'), {
      campaignId: '<campaign>',
    });
    expect(state).toMatchObject({ exitCode: 1 });
    expect(state.message).toMatch(/<campaign>: bad/);
    expect(replyError('StartRound', refusal('TIMEOUT', ''))).toMatchObject({ exitCode: 3 });
    expect(optionFor('payload.budgets.submissionsPerRound')).toBe('--submissions');
    const model = replyError('StartCampaign', refusal('INVALID_CLAUDE_MODEL', 'payload.claudeModel'));
    expect(model.constructor.name).toBe('UsageError');
    expect(model.message).toMatch(/--model: bad/);
  });

  it(
    'counts the cache writes and reads of meta-agent and prose turns ' +
      'in the view’s token spend, as the budget does',
    () => {
      const v = emptyView('cached');
      const policy = { revision: 1 };
      // The campaign and its round 1 as recorded (the view charges each turn to the round whose evidence it read).
      for (const e of sampleCampaignLog({ campaignId: 'cached', seed: 1, rounds: 1 }))
        if (e.type === 'CampaignStarted' || e.type === 'RoundStarted') applyView(v, e);
      applyView(v, {
        type: 'PolicyRevised',
        campaignId: 'cached',
        data: {
          round: 1,
          policy,
          llm: { inputTokens: 10, outputTokens: 20, cacheReadTokens: 300, cacheCreationTokens: 4000 },
        },
      });
      applyView(v, {
        type: 'RoundEvidenceRecorded',
        campaignId: 'cached',
        data: {
          round: 1,
          evidence: { calibration: null },
          llm: { inputTokens: 1, outputTokens: 2, cacheReadTokens: 0 },
        },
      });
      expect(statusOf(v).spent.llmTokens).toBe(10 + 20 + 300 + 4000 + 1 + 2);
    },
  );

  it('draws bars and a view for a campaign with nothing recorded', () => {
    expect(bar(0, 4, 8)).toBe('░░░░░░░░');
    expect(bar(2, 4, 8)).toBe('████░░░░');
    expect(bar(9, 4, 8)).toBe('████████');
    expect(renderView(statusOf(emptyView('x')))).toEqual(['campaign x: nothing recorded yet']);
    const f = emptyView('alpha');
    for (const e of sampleCampaignLog({ campaignId: 'alpha', seed: 3, rounds: 1 })) applyView(f, e);
    const v = statusOf(f);
    expect(v.status).toBe('completed');
    expect(v.rounds[0].candidates.every((c) => ['completed', 'failed', 'invalidated'].includes(c.status))).toBe(true);
  });
});
