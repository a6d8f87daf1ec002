import 'reflect-metadata';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RoundEvidenceRecorded, sha256Hex, type DataOf } from '@aevo/contracts';
import { roundEvidenceProjection } from '@aevo/evidence';
import { ProjectionRegistry, ProjectionSet } from '@aevo/projections';
import {
  policyHistoryProjection,
  replayPolicyRevisions,
  revisePolicy,
  type PolicyHistoryState,
} from '@aevo/policy-engine';
import { eventually } from '@aevo/testkit';
import { MetaPolicyWorkflow } from '../src/app/meta-policy-workflow';
import {
  AXES,
  anchor,
  CONSTITUTION,
  REPO,
  constitution,
  gain,
  harmful,
  metaPolicyReplicas,
  policy0,
} from './meta-policy-replicas';

jest.setTimeout(180_000);

describe('meta-policy replicas against PostgreSQL and nats-server', () => {
  const { ctx, replies, replicas, before, revisions, refusals, fellBack, start, evidenceEvent, record } =
    metaPolicyReplicas();

  it('revises with the rules once per round, in round order even when round 2’s evidence arrives first', async () => {
    await start('camp-rules');
    const e1 = evidenceEvent('camp-rules', 1, gain, policy0);
    const p1 = revisePolicy(
      policy0,
      (e1.data as DataOf<typeof RoundEvidenceRecorded>).evidence,
      constitution.constitution,
      { campaignAxes: [...AXES] },
    ).policy;
    const e2 = evidenceEvent('camp-rules', 2, harmful, p1);
    await record(e2);
    await record(e1);
    const revs = await eventually(async () => {
      const r = await revisions('camp-rules');
      return r.length === 2 && r;
    }, 90_000);
    expect(revs.map((r) => [r.data.round, r.data.policy.revision, r.data.proposer])).toEqual([
      [1, 1, 'rules'],
      [2, 2, 'rules'],
    ]);
    expect(revs[0].data.policy).toEqual(p1);
    expect(revs[0].data).toMatchObject({
      evidenceSha256: (e1.data as { evidenceSha256: string }).evidenceSha256,
      constitutionSha256: constitution.sha256,
      llm: null,
    });
    expect(revs[1].data.policy.deadEnds.map((d) => d.id)).toEqual(['dead-end-camp-rules-r2-c1']);

    // Redelivered to both replicas at once: nothing more is written.
    const reviser = replicas.map((r) => r.app.get(MetaPolicyWorkflow));
    const stored = await ctx.store.readAll({ campaignId: 'camp-rules', types: [RoundEvidenceRecorded.type] });
    const outcomes = await Promise.all(stored.flatMap((e) => reviser.map((x) => x.onEvidence(e as never))));
    expect(new Set(outcomes)).toEqual(new Set(['exists']));
    expect(await revisions('camp-rules')).toHaveLength(2);
  });

  it('lets Claude propose as structured output with the campaign’s model, and keeps a compliant proposal', async () => {
    await start('camp-claude', { metaKind: 'claude', claudeModel: 'claude-opus-4-8' });
    const e1 = evidenceEvent('camp-claude', 1, gain, policy0);
    const rules = revisePolicy(
      policy0,
      (e1.data as DataOf<typeof RoundEvidenceRecorded>).evidence,
      constitution.constitution,
      { campaignAxes: [...AXES] },
    ).policy;
    // The round's gain waits for its confirmation run (the rule engine's bookkeeping); the agent narrows the search.
    const proposal = {
      promotedCandidateId: null,
      standingRecipe: rules.standingRecipe,
      activeCategory: rules.activeCategory,
      activeAxes: ['learning-rate', 'schedule'],
      retiredAxes: rules.retiredAxes,
      deadEnds: rules.deadEnds,
      promotionThreshold: 0.015,
      anchorSeeds: 3,
      selectionCriterion: rules.selectionCriterion,
      objective: rules.objective,
      evidenceRules: rules.evidenceRules,
      rationale: 'lr 0.002 gained on the leaderboard and awaits its confirmation; narrow the search to lr and schedule',
    };
    // As the model writes it: the recipe, a free-form map, travels as a JSON string in the structured output.
    replies.set('camp-claude', () => ({
      json: { ...proposal, standingRecipe: JSON.stringify(proposal.standingRecipe) },
    }));
    await record(e1);
    const [rev] = await eventually(async () => {
      const r = await revisions('camp-claude');
      return r.length === 1 && r;
    }, 60_000);
    // No breakpoint, so no cache write to pay: the tokens are input and output only, all counted.
    expect(rev.data).toMatchObject({
      proposer: 'claude',
      llm: { model: 'claude-opus-4-8', cacheReadTokens: 0, cacheCreationTokens: 0, refused: false, proposal },
    });
    expect(rev.data.llm?.inputTokens).toBeGreaterThan(1000);
    expect(rev.data.policy).toMatchObject({
      activeAxes: ['learning-rate', 'schedule'],
      promotionThreshold: 0.015,
      standingRecipe: rules.standingRecipe,
    });
    expect(rev.data.policy.pendingConfirmations?.map((c) => c.candidateId)).toEqual(['camp-claude-r1-c1']);
    const req = ctx.llm.requests.find((r) => JSON.stringify(r.messages).includes('camp-claude-r'));
    const system = req?.system as Array<{ type: string; text: string; cache_control?: unknown }>;
    expect(system).toHaveLength(1);
    expect(system[0].type).toBe('text');
    expect(system[0]).not.toHaveProperty('cache_control');
    expect(system[0].text).toContain(constitution.constitution.text.trim());
    // Structured output, not a forced tool call (which newer models refuse).
    expect(req?.model).toBe('claude-opus-4-8');
    expect(req?.tools).toBeUndefined();
    expect(req?.tool_choice).toBeUndefined();
    expect(req?.output_config?.format).toMatchObject({
      type: 'json_schema',
      schema: { type: 'object', additionalProperties: false },
    });
    expect(req?.output_config?.format?.schema.properties).toMatchObject({ standingRecipe: { type: 'string' } });
    expect(ctx.llm.refusals).toEqual([]);
    expect(await fellBack('camp-claude')).toEqual([]);
  });

  it('records each fall-back to the rules as ClaudeFellBack: API error, retired model, refusal, none', async () => {
    // Overloaded (after the SDK's retries): the rule engine revises, and the log says why.
    await start('camp-overloaded', { metaKind: 'claude', claudeModel: 'claude-sonnet-5-5' });
    replies.set('camp-overloaded', () => ({ error: 'overloaded_error' }));
    await record(evidenceEvent('camp-overloaded', 1, gain, policy0));
    const [down] = await eventually(async () => {
      const f = await fellBack('camp-overloaded');
      return f.length === 1 && f;
    }, 60_000);
    expect(down.data).toEqual({
      round: 1,
      pass: 'meta-agent',
      fallback: 'rules',
      reason: 'api-error',
      model: 'claude-sonnet-5-5',
      errorClass: 'OverloadedError',
      status: 529,
      errorType: 'overloaded_error',
      requestId: expect.stringMatching(/^req_/),
      detail: expect.stringContaining('Overloaded'),
    });
    const [rev] = await revisions('camp-overloaded');
    expect(rev.data).toMatchObject({ proposer: 'rules', llm: null });
    // Written in one append with the revision it explains.
    const stream = await ctx.store.readStream(down.streamId);
    expect(stream.map((e) => e.type)).toEqual(['ClaudeFellBack', 'PolicyRevised']);

    // A campaign recorded with a model that has since been retired: the API answers 404, and that is on record too.
    await start('camp-retired', { metaKind: 'claude', claudeModel: 'claude-sonnet-4-5' });
    replies.set('camp-retired', () => ({ json: {} }));
    await record(evidenceEvent('camp-retired', 1, gain, policy0));
    const [retired] = await eventually(async () => {
      const f = await fellBack('camp-retired');
      return f.length === 1 && f;
    }, 60_000);
    expect(retired.data).toMatchObject({
      reason: 'api-error',
      model: 'claude-sonnet-4-5',
      errorClass: 'NotFoundError',
      status: 404,
      errorType: 'not_found_error',
    });

    // A refusal is not a proposal: recorded as the refused proposal and as the fall-back.
    await start('camp-refusal', { metaKind: 'claude' });
    replies.set('camp-refusal', () => ({ text: 'I can’t help with that.', stopReason: 'refusal' }));
    await record(evidenceEvent('camp-refusal', 1, gain, policy0));
    const [refusal] = await eventually(async () => {
      const f = await fellBack('camp-refusal');
      return f.length === 1 && f;
    }, 60_000);
    // No model recorded at its start: the operator default was asked.
    expect(refusal.data).toMatchObject({
      reason: 'unusable-reply',
      model: 'claude-sonnet-5-5',
      errorClass: null,
      detail: 'the model refused (stop_reason refusal)',
    });
    const [refusedRev] = await revisions('camp-refusal');
    expect(refusedRev.data).toMatchObject({
      proposer: 'rules',
      llm: { refused: true, stopReason: 'refusal', proposal: { unusableReply: { stopReason: 'refusal' } } },
    });

    // A service without an API key: the campaign's request for Claude cannot be met, and that is recorded.
    await start('camp-nokey', { metaKind: 'claude', claudeModel: 'claude-opus-4-8' });
    const bare = new MetaPolicyWorkflow(ctx.store, { constitutionsRoots: [REPO], agent: null });
    // Handed over directly, not appended: the replicas (which have an agent) must not race it.
    expect(await bare.onEvidence(evidenceEvent('camp-nokey', 1, gain, policy0) as never)).toBe('revised');
    expect((await fellBack('camp-nokey')).map((f) => f.data)).toEqual([
      expect.objectContaining({ reason: 'not-configured', model: 'claude-opus-4-8', errorClass: null, status: null }),
    ]);
  });

  it('refuses an agent writing the constitution or dropping a dead end; the file is untouched', async () => {
    await start('camp-evil', { metaKind: 'claude' });
    // Structured output binds the model to the schema; the validator still refuses what slips past it.
    replies.set('camp-evil', () => ({
      json: {
        constitution: { rules: { deadEndRegistryOnlyGrows: false, minThresholdNoiseMultiple: 0 } },
        deadEnds: [],
        rationale: 'relax the rules',
      },
    }));
    await record(evidenceEvent('camp-evil', 1, harmful, policy0));
    const [rev1] = await eventually(async () => {
      const r = await revisions('camp-evil');
      return r.length === 1 && r;
    }, 60_000);
    expect(rev1.data).toMatchObject({ proposer: 'rules', llm: { refused: true } });
    expect(rev1.data.policy.deadEnds).toHaveLength(1);
    const p1 = rev1.data.policy;
    // Round 2: a well-formed proposal that silently drops the dead end and skips nothing else.
    replies.set('camp-evil', () => ({
      json: {
        promotedCandidateId: null,
        standingRecipe: JSON.stringify(p1.standingRecipe),
        activeCategory: p1.activeCategory,
        activeAxes: p1.activeAxes,
        retiredAxes: p1.retiredAxes,
        deadEnds: [],
        promotionThreshold: p1.promotionThreshold,
        anchorSeeds: p1.anchorSeeds,
        selectionCriterion: p1.selectionCriterion,
        objective: p1.objective,
        evidenceRules: p1.evidenceRules,
        rationale: 'forget the past',
      },
    }));
    await record(evidenceEvent('camp-evil', 2, [anchor(0.55)], p1));
    await eventually(async () => (await revisions('camp-evil')).length === 2, 60_000);
    const refused = await refusals('camp-evil');
    expect(refused.map((r) => [r.data.round, r.data.rule])).toEqual(
      expect.arrayContaining([
        [1, 'constitution-immutable'],
        [2, 'dead-end-registry-only-grows'],
      ]),
    );
    const rev2 = (await revisions('camp-evil'))[1];
    expect(rev2.data.policy.deadEnds.map((d) => d.id)).toEqual(['dead-end-camp-evil-r1-c1']);
    expect(fs.readFileSync(path.join(REPO, CONSTITUTION))).toEqual(before);
    expect(sha256Hex(fs.readFileSync(path.join(REPO, CONSTITUTION)))).toBe(constitution.sha256);
  });

  it('given a constitution that no longer matches the pinned hash, then it refuses and makes no revision', async () => {
    await start('camp-tampered', { pinned: sha256Hex('the constitution as it was at campaign start') });
    await record(evidenceEvent('camp-tampered', 1, gain, policy0));
    const [r] = await eventually(async () => {
      const x = await refusals('camp-tampered');
      return x.length === 1 && x;
    }, 60_000);
    expect(r.data.rule).toBe('constitution-pinned');
    expect(await revisions('camp-tampered')).toHaveLength(0);
  });

  it('replaying the log re-decides every revision byte for byte from recorded proposals, calling no LLM', async () => {
    const calls = ctx.llm.calls;
    const log = await ctx.store.readAll({});
    // Not camp-nokey: its evidence was handed to a reviser directly, so the log holds no evidence to replay from.
    for (const c of ['camp-rules', 'camp-claude', 'camp-evil', 'camp-overloaded', 'camp-retired', 'camp-refusal']) {
      const results = replayPolicyRevisions(c, log, constitution);
      expect(results.length).toBeGreaterThan(0);
      for (const r of results) expect(r).toMatchObject({ equal: true, refusalsEqual: true });
    }
    expect(ctx.llm.calls).toBe(calls);
  });

  it('folds the log into the policy-history and round-evidence projections through @aevo/projections', async () => {
    const log = await ctx.store.readAll({});
    const run = () =>
      new ProjectionSet(new ProjectionRegistry([policyHistoryProjection, roundEvidenceProjection])).applyAll(log);
    const set = run();
    expect(
      run()
        .results()
        .map((r) => r.hash),
    ).toEqual(set.results().map((r) => r.hash));
    const history = (set.snapshot('policy-history') as PolicyHistoryState)['camp-rules'];
    const evidence = await ctx.store.readAll({ campaignId: 'camp-rules', types: [RoundEvidenceRecorded.type] });
    const shaOf = (round: number) =>
      (evidence.find((e) => (e.data as { round: number }).round === round)?.data as { evidenceSha256: string })
        .evidenceSha256;
    expect(history.revisions.map((r) => [r.revision, r.round, r.evidenceSha256])).toEqual([
      [0, null, null],
      [1, 1, shaOf(1)],
      [2, 2, shaOf(2)],
    ]);
    expect(history.revisions[1].changes).toContain(
      'awaiting confirmation: camp-rules-r1-c1 (learning-rate, LB +0.03 in round 1)',
    );
  });
});
