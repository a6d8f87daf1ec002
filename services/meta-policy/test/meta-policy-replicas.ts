import 'reflect-metadata';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import {
  ClaudeFellBack,
  ConstitutionViolationRefused,
  PolicyRevised,
  RoundEvidenceRecorded,
  contentHash,
  createEvent,
  type DataOf,
  type EventEnvelope,
  type RollingPolicy,
} from '@aevo/contracts';
import type { PostgresEventStore, StoredEvent } from '@aevo/eventstore';
import type { ServiceApp } from '@aevo/messaging';
import { collectRoundEvidence, testCampaignStarted, testRound, type CandidateSpec } from '@aevo/evidence';
import { initialPolicy, loadConstitutionFile } from '@aevo/policy-engine';
import {
  LoopbackMessagesApi,
  startServiceHarness,
  type MessagesRequest,
  type MessagesReply as Reply,
  type ServiceHarness,
} from '@aevo/testkit';
import { ClaudeMetaAgent } from '../src/app/claude-meta-agent';
import { MetaPolicyModule } from '../src/meta-policy.module';

export const REPO = path.resolve(__dirname, '../../..');
export const CONSTITUTION = 'deploy/constitutions/default.yaml';
export const constitution = loadConstitutionFile(path.join(REPO, CONSTITUTION));
export const AXES = ['learning-rate', 'schedule', 'steps', 'data-mix', 'synthetic-data'] as const;
export const policy0 = initialPolicy({
  standingRecipe: { optim: { lr: 0.001, steps: 400 }, mix: { equation: 1, gravity: 1 } },
  axes: [...AXES],
  anchorSeeds: 3,
});
export const anchor = (lb: number): CandidateSpec => ({
  axis: 'baseline',
  dev: 0.6,
  lb,
  extraSeedDevs: [0.605, 0.595],
});
export const gain: CandidateSpec[] = [
  anchor(0.55),
  { axis: 'learning-rate', dev: 0.63, lb: 0.58, changes: [{ path: 'optim.lr', from: 0.001, to: 0.002 }] },
];
export const harmful: CandidateSpec[] = [
  anchor(0.55),
  { axis: 'steps', dev: 0.5, lb: 0.48, changes: [{ path: 'optim.steps', from: 400, to: 40 }] },
];

/**
 * Two meta-policy replicas on one isolated schema and JetStream stream, with a scripted Claude loopback (`replies`,
 * keyed by campaign id). Registers the suite's beforeAll/afterAll; `ctx.store` and `ctx.llm` are set from then on.
 */
export function metaPolicyReplicas() {
  const ctx = {} as { store: PostgresEventStore; llm: LoopbackMessagesApi };
  let h: ServiceHarness;
  const replies = new Map<string, (req: MessagesRequest) => Reply>();
  const replicas: ServiceApp[] = [];
  const before = fs.readFileSync(path.join(REPO, CONSTITUTION));

  const ofType = async <T>(campaignId: string, type: string) =>
    (await ctx.store.readAll({ campaignId, types: [type] })) as Array<StoredEvent & { data: T }>;
  const revisions = (c: string) => ofType<DataOf<typeof PolicyRevised>>(c, PolicyRevised.type);
  const refusals = (c: string) =>
    ofType<DataOf<typeof ConstitutionViolationRefused>>(c, ConstitutionViolationRefused.type);

  const fellBack = (c: string) => ofType<DataOf<typeof ClaudeFellBack>>(c, ClaudeFellBack.type);

  /** `claudeModel`: as StartCampaign recorded it (absent: a campaign started before the model was a setting). */
  async function start(
    campaignId: string,
    opts: { metaKind?: 'rules' | 'claude'; pinned?: string; claudeModel?: string } = {},
  ) {
    const e = testCampaignStarted(campaignId, policy0, {
      constitutionSha256: opts.pinned ?? constitution.sha256,
      constitution: constitution.constitution,
      axes: [...AXES],
    });
    const data = e.data as { config: Record<string, unknown> };
    data.config = {
      ...data.config,
      metaKind: opts.metaKind ?? 'rules',
      constitutionPath: CONSTITUTION,
      ...(opts.claudeModel ? { claudeModel: opts.claudeModel } : {}),
    };
    await ctx.store.append(`campaign-${campaignId}`, 'no-stream', [e]);
  }

  /** The evidence the collector would record for `specs` under the policy in force. */
  function evidenceEvent(
    campaignId: string,
    round: number,
    specs: CandidateSpec[],
    policy: RollingPolicy,
  ): EventEnvelope {
    const evidence = collectRoundEvidence(testRound(specs, { campaignId, round, policy }));
    return createEvent(
      RoundEvidenceRecorded,
      { round, evidence, evidenceSha256: contentHash(evidence), trigger: 'all-in', inputEventIds: [], llm: null },
      { campaignId, streamId: `collector-${campaignId}-r${round}`, source: 'collector' },
    );
  }
  const record = (e: EventEnvelope) => ctx.store.append(e.streamId, 'no-stream', [e]);

  beforeAll(async () => {
    ctx.llm = await new LoopbackMessagesApi((req) => {
      const prompt = JSON.stringify(req.messages);
      for (const [campaignId, reply] of replies) if (prompt.includes(`${campaignId}-r`)) return reply(req);
      return { error: 'invalid_request_error', message: 'no scripted reply' };
    }).start();
    // The operator default, asked for campaigns whose CampaignStarted names no model.
    const agent = new ClaudeMetaAgent(
      new Anthropic({ apiKey: 'test-key', baseURL: ctx.llm.url, maxRetries: 0 }),
      'claude-sonnet-5-5',
    );
    const metaPolicy = () =>
      MetaPolicyModule.forRoot({
        settings: { constitutionsRoots: [path.join(REPO, 'services'), REPO], claude: null },
        agent,
      });
    // Each replica relays the store itself (AEVO_RELAY on), as the service's processes do.
    h = await startServiceHarness([metaPolicy(), metaPolicy()], {
      service: 'meta-policy',
      relay: true,
      harnessRelay: false,
      server: { nakDelayMs: 300, maxNakDelayMs: 2000, maxDeliver: 20 },
    });
    ctx.store = h.store;
    replicas.push(...h.replicas);
  });

  afterAll(async () => {
    await h?.close();
    await ctx.llm?.stop();
  });

  return { ctx, replies, replicas, before, revisions, refusals, fellBack, start, evidenceEvent, record };
}
