import 'reflect-metadata';
import Anthropic from '@anthropic-ai/sdk';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  ClaudeFellBack,
  RoundCollectionClaimed,
  RoundCollectionDeadlineSet,
  RoundEvidenceRecorded,
  contentHash,
  createEvent,
  type DataOf,
  type EventEnvelope,
} from '@aevo/contracts';
import type { PostgresEventStore, StoredEvent } from '@aevo/eventstore';
import type { ServiceApp } from '@aevo/messaging';
import {
  collectRoundEvidence,
  foldLedger,
  replayRoundEvidence,
  testCampaignStarted,
  testPolicy,
  testRound,
  testRoundEvents,
  type CandidateSpec,
} from '@aevo/evidence';
import { eventually, startServiceHarness, type ServiceHarness, type TestNatsNames } from '@aevo/testkit';
import { CollectorModule } from '../src/collector.module';
import { ClaudeProseWriter } from '../src/app/prose-writer';
import { CollectorWorkflow, claimStreamId } from '../src/app/collector-workflow';
import { LoopbackMessagesApi } from '@aevo/testkit';

jest.setTimeout(180_000);

const DEADLINE_SECONDS = 4;
const round1: CandidateSpec[] = [
  { axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.61] },
  { axis: 'learning-rate', dev: 0.64, lb: 0.58, changes: [{ path: 'optim.lr', from: 0.001, to: 0.002 }] },
  { axis: 'synthetic-data', dev: 0.7, lb: 0.551, changes: [{ path: 'synthetic.equation', from: 0, to: 2000 }] },
];

describe('collector replicas against PostgreSQL and nats-server', () => {
  let h: ServiceHarness;
  let names: TestNatsNames;
  let store: PostgresEventStore;
  let llm: LoopbackMessagesApi;
  let replicas: ServiceApp[];

  const recorded = async (campaignId: string) =>
    (await store.readAll({ campaignId, types: [RoundEvidenceRecorded.type] })) as Array<
      StoredEvent & { data: DataOf<typeof RoundEvidenceRecorded> }
    >;

  /**
   * Appends a round's log the way the other services would, each fact in its own stream, RoundStarted last.
   * `claudeModel`: as StartCampaign recorded it (absent: a campaign started before the model was a setting).
   */
  async function writeRound(
    campaignId: string,
    specs: CandidateSpec[],
    drop: (e: EventEnvelope) => boolean = () => false,
    claudeModel?: string,
  ) {
    const policy = testPolicy();
    const inputs = testRound(specs, { campaignId, policy });
    const events = testRoundEvents(inputs).filter((e) => !drop(e));
    const started = testCampaignStarted(campaignId, policy);
    if (claudeModel) (started.data as { config: Record<string, unknown> }).config.claudeModel = claudeModel;
    await store.append(`campaign-${campaignId}`, 'any', [started]);
    const roundStarted = events.filter((e) => e.type === 'RoundStarted');
    for (const e of events.filter((x) => x.type !== 'RoundStarted')) await store.append(e.streamId, 'any', [e]);
    await store.append(`campaign-${campaignId}`, 'any', roundStarted);
    return inputs;
  }

  beforeAll(async () => {
    llm = await new LoopbackMessagesApi((req) => {
      const prompt = JSON.stringify(req.messages);
      if (prompt.includes('camp-llm-down')) return { error: 'overloaded_error' };
      if (prompt.includes('camp-bad-prose')) return { json: { calibration: 'fine', devLbGap: 0 } };
      return {
        json: { calibration: 'Dev rose on synthetic equations while the leaderboard stayed flat.', surprises: 'None.' },
      };
    }).start();
    // The operator default, asked for campaigns whose CampaignStarted names no model.
    const prose = new ClaudeProseWriter(
      new Anthropic({ apiKey: 'test-key', baseURL: llm.url, maxRetries: 0 }),
      'claude-sonnet-5-5',
    );
    const collector = () =>
      CollectorModule.forRoot({
        settings: { deadlineSeconds: DEADLINE_SECONDS, tickMs: 250, claimSeconds: 300, prose: { kind: 'off' } },
        prose,
      });
    // Each replica relays the store itself (AEVO_RELAY on), as the collector's processes do.
    h = await startServiceHarness([collector(), collector()], {
      service: 'collector',
      relay: true,
      harnessRelay: false,
    });
    ({ names, store, replicas } = h);
  });

  afterAll(async () => {
    await h?.close();
    await llm?.stop();
  });

  it(
    'records the round once when every manifest and score is in, ' + 'with prose that leaves the numbers as computed',
    async () => {
      const inputs = await writeRound('camp-a', round1, undefined, 'claude-haiku-4-5');
      const [rec] = await eventually(async () => {
        const r = await recorded('camp-a');
        return r.length > 0 && r;
      }, 60_000);
      expect(rec.data.trigger).toBe('all-in');
      // The campaign's model; no cache breakpoint, so neither a cache write nor a read: every token is counted as
      // billed.
      expect(rec.data.llm).toMatchObject({
        model: 'claude-haiku-4-5',
        outputTokens: 220,
        cacheReadTokens: 0,
        cacheCreationTokens: 0,
        stopReason: 'end_turn',
      });
      expect(rec.data.llm?.inputTokens).toBeGreaterThan(0);
      expect(rec.data.evidence.prose).toEqual({
        calibration: 'Dev rose on synthetic equations while the leaderboard stayed flat.',
        surprises: 'None.',
      });
      expect(contentHash({ ...rec.data.evidence, prose: null })).toBe(contentHash(collectRoundEvidence(inputs)));
      expect(rec.data.evidence.calibration.proxyDecoupling).toMatchObject({
        flagged: true,
        candidates: ['camp-a-r1-c2'],
      });
      expect(rec.data.evidenceSha256).toBe(contentHash(rec.data.evidence));
      const req = llm.requests[0];
      expect(req.model).toBe('claude-haiku-4-5');
      // The system prompt is far under any cacheable length: sent plain, without a breakpoint.
      expect(typeof req.system).toBe('string');
      // Structured output, not a forced tool call.
      expect(req.tools).toBeUndefined();
      expect(req.tool_choice).toBeUndefined();
      expect(req.output_config?.format).toMatchObject({
        type: 'json_schema',
        schema: { type: 'object', additionalProperties: false },
      });
      expect(llm.refusals).toEqual([]);
      expect(await store.readAll({ campaignId: 'camp-a', types: [ClaudeFellBack.type] })).toEqual([]);
    },
  );

  it('consumes the round’s facts through durable JetStream consumers shared by the replicas', async () => {
    const nc = await connect({ servers: names.url });
    try {
      const jsm = await jetstreamManager(nc);
      for (const type of [
        'RoundStarted',
        'ManifestSubmitted',
        'SubmissionRequested',
        'LeaderboardScored',
        'SubmissionRejected',
        'FrozenPathViolated',
      ]) {
        const info = await jsm.consumers.info(names.stream, `collector__${type}`);
        expect(info.config.durable_name).toBe(`collector__${type}`);
      }
      await eventually(async () => {
        const info = await jsm.consumers.info(names.stream, 'collector__ManifestSubmitted');
        return info.delivered.stream_seq > 0 && info.num_ack_pending === 0 && info.num_pending === 0;
      }, 60_000);
    } finally {
      await nc.close();
    }
  });

  it('stays exactly once under redelivery and racing replicas', async () => {
    const all = await store.readAll({ campaignId: 'camp-a' });
    const collectors = replicas.map((r) => r.app.get(CollectorWorkflow));
    await Promise.all(all.flatMap((e) => collectors.map((c) => c.onEvent(e))));
    await Promise.all(collectors.map((c) => c.tick()));
    expect(await recorded('camp-a')).toHaveLength(1);
    expect(await store.readAll({ campaignId: 'camp-a', types: [RoundCollectionDeadlineSet.type] })).toHaveLength(1);
  });

  it(
    'given a manifest that never arrives, then the round is recorded at its ' +
      'recorded deadline, naming the missing candidate',
    async () => {
      await writeRound(
        'camp-late',
        round1,
        (e) => e.type === 'ManifestSubmitted' && (e.data as { candidateId: string }).candidateId === 'camp-late-r1-c1',
      );
      const [deadline] = await eventually(async () => {
        const d = await store.readAll({ campaignId: 'camp-late', types: [RoundCollectionDeadlineSet.type] });
        return d.length > 0 && d;
      }, 60_000);
      const started = (await store.readAll({ campaignId: 'camp-late', types: ['RoundStarted'] }))[0];
      expect((deadline.data as { deadlineAt: string }).deadlineAt).toBe(
        new Date(Date.parse(started.time) + DEADLINE_SECONDS * 1000).toISOString(),
      );
      const [rec] = await eventually(async () => {
        const r = await recorded('camp-late');
        return r.length > 0 && r;
      }, 60_000);
      expect(rec.data.trigger).toBe('deadline');
      expect(Date.parse(rec.time)).toBeGreaterThanOrEqual(
        Date.parse((deadline.data as { deadlineAt: string }).deadlineAt),
      );
      const missing = rec.data.evidence.candidateSummaries.find((s) => s.candidateId === 'camp-late-r1-c1');
      expect(missing).toMatchObject({ status: 'missing', failureModes: [{ kind: 'timeout' }] });
    },
  );

  it('given the prose pass fails or returns more than text, then the numbers are recorded without prose', async () => {
    await writeRound('camp-llm-down', round1);
    await writeRound('camp-bad-prose', round1);
    const down = await eventually(async () => (await recorded('camp-llm-down'))[0], 60_000);
    const bad = await eventually(async () => (await recorded('camp-bad-prose'))[0], 60_000);
    expect(down.data).toMatchObject({ trigger: 'all-in', llm: null, evidence: { prose: null } });
    expect(bad.data).toMatchObject({
      trigger: 'all-in',
      llm: { model: 'claude-sonnet-5-5' },
      evidence: { prose: null },
    });
    // Each fall-back is on record, in the same append as the evidence it left without prose.
    const fellBack = async (c: string) =>
      (await store.readAll({ campaignId: c, types: [ClaudeFellBack.type] })).map(
        (e) => e.data as DataOf<typeof ClaudeFellBack>,
      );
    expect(await fellBack('camp-llm-down')).toEqual([
      {
        round: 1,
        pass: 'evidence-prose',
        fallback: 'numbers-without-prose',
        reason: 'api-error',
        model: 'claude-sonnet-5-5',
        errorClass: 'OverloadedError',
        status: 529,
        errorType: 'overloaded_error',
        requestId: expect.stringMatching(/^req_/),
        detail: expect.stringContaining('Overloaded'),
      },
    ]);
    expect((await store.readStream(down.streamId)).map((e) => e.type)).toEqual([
      'ClaudeFellBack',
      'RoundEvidenceRecorded',
    ]);
    expect(await fellBack('camp-bad-prose')).toEqual([
      expect.objectContaining({
        reason: 'unusable-reply',
        model: 'claude-sonnet-5-5',
        errorClass: null,
        detail: expect.stringContaining('other than text'),
      }),
    ]);
  });

  it('calls the LLM once per round: racing replicas defer to the one that claimed the round', async () => {
    const perCampaign = llm.requests.map(
      (r) => /"campaignId":"([^"]+)"/.exec(String(r.messages[0].content))?.[1] ?? '?',
    );
    expect(perCampaign.sort()).toEqual(['camp-a', 'camp-bad-prose', 'camp-late', 'camp-llm-down']);
    for (const c of ['camp-a', 'camp-late', 'camp-llm-down', 'camp-bad-prose'])
      expect(await store.readAll({ campaignId: c, types: [RoundCollectionClaimed.type] })).toHaveLength(1);
  });

  it('lets another replica take over a claim that expired without a record, and waits on one that holds', async () => {
    const inputs = testRound(round1, { campaignId: 'camp-claims', policy: testPolicy() });
    const log = [testCampaignStarted('camp-claims', testPolicy()), ...testRoundEvents(inputs)];
    // Written straight to the store, without the relay-driven services noticing: the collectors below are local.
    const local = new CollectorWorkflow(store, {
      deadlineSeconds: 3600,
      claimSeconds: 60,
      prose: new ClaudeProseWriter(
        new Anthropic({ apiKey: 'k', baseURL: llm.url, maxRetries: 0 }),
        'claude-sonnet-5-5',
      ),
    });
    const foreignClaim = (ageSeconds: number) =>
      createEvent(
        RoundCollectionClaimed,
        { round: 1, claimedBy: 'replica-that-crashed', expiresAfterSeconds: 60 },
        {
          campaignId: 'camp-claims',
          streamId: claimStreamId('camp-claims', 1),
          source: 'collector',
          now: () => new Date(Date.now() - ageSeconds * 1000),
        },
      );
    const ledger = foldLedger('camp-claims', log);
    await store.append(claimStreamId('camp-claims', 1), 'no-stream', [foreignClaim(10)]);
    expect(await local.collect(ledger, 1, 'all-in')).toBe('waiting');
    await store.append(claimStreamId('camp-claims', 1), 1, [foreignClaim(120)]);
    const calls = llm.calls;
    expect(await local.collect(ledger, 1, 'all-in')).toBe('recorded');
    expect(llm.calls).toBe(calls + 1);
    const claims = await store.readStream(claimStreamId('camp-claims', 1));
    expect(claims.map((c) => (c.data as { claimedBy: string }).claimedBy)).toEqual([
      'replica-that-crashed',
      'replica-that-crashed',
      local.replicaId,
    ]);
  });

  it('replaying the log reproduces every record byte for byte without calling the LLM', async () => {
    const callsBefore = llm.calls;
    const log = await store.readAll({});
    for (const campaignId of ['camp-a', 'camp-late', 'camp-llm-down', 'camp-bad-prose']) {
      const results = replayRoundEvidence(campaignId, log);
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ equal: true });
    }
    expect(llm.calls).toBe(callsBefore);
  });
});
