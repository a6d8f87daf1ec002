/**
 * A small in-process campaign loop on the simulated substrate, standing in for the orchestrator, workers and
 * leaderboard until the services pipeline runs end to end. Everything it does goes into an event log exactly as
 * those services would write it; the collector and the meta-policy parts are the real pure cores
 * (`@aevo/evidence`, `@aevo/policy-engine`). The substrate's own entrypoints run as spawned processes, rendered
 * from its substrate.yaml.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as YAML from 'yaml';
import {
  CampaignStarted,
  ConstitutionViolationRefused,
  DecouplingConfirmed,
  DecouplingProbed,
  DecouplingRefuted,
  DecouplingSuspected,
  LeaderboardScored,
  ManifestSubmitted,
  PolicyRevised,
  ResultManifest,
  RoundEvidenceRecorded,
  RoundStarted,
  SubmissionRequested,
  contentHash,
  createEvent,
  selectCheckpoint,
  seededRandom,
  type Axis,
  type DataOf,
  type EventEnvelope,
  type RecipeDocument,
  type RollingPolicy,
} from '@aevo/contracts';
import { collectRoundEvidence, evidenceHash, evidenceInputs, foldLedger, roundReadiness } from '@aevo/evidence';
import {
  applyRecipeChanges,
  initialPolicy,
  metaPolicyDecider,
  prescribedRuns,
  type FrozenConstitution,
  type MetaPolicyEvent,
  type MetaPolicyState,
} from '@aevo/policy-engine';
import { loadSubstrate, renderEntrypoint, type CommandName, type LoadedSubstrate } from '@aevo/substrate-kit';
import { csvCell, parseCsvLine } from './sim-csv';
import { candidateManifest, type CheckpointRun } from './sim-manifest';
import { proposeChange } from './sim-proposals';

const run = promisify(execFile);

export interface SimCampaignOptions {
  substrateDir: string;
  workDir: string;
  constitution: FrozenConstitution;
  constitutionPath: string;
  campaignId: string;
  seed: number;
  axes: Axis[];
  explorersPerRound: number;
  anchorSeeds: number;
  size: string;
}

export class SimulatedCampaign {
  readonly log: EventEnvelope[] = [];
  private readonly substrate: LoadedSubstrate;
  private readonly lbDir: string;
  spawned = 0;

  constructor(private readonly o: SimCampaignOptions) {
    this.substrate = loadSubstrate(o.substrateDir);
    this.lbDir = path.join(o.workDir, 'leaderboard');
  }

  private append(e: EventEnvelope) {
    this.log.push(e);
  }

  private async exec(name: CommandName, values: Record<string, string | number>, cwd: string): Promise<void> {
    const argv = renderEntrypoint(this.substrate.manifest, name, values);
    this.spawned++;
    await run(argv[0], argv.slice(1), { cwd, maxBuffer: 16 * 1024 * 1024 });
  }

  state(): MetaPolicyState {
    return this.log.reduce(
      (s, e) => metaPolicyDecider.evolve(s, e as MetaPolicyEvent),
      metaPolicyDecider.initialState(),
    );
  }

  async start(): Promise<void> {
    const recipe = YAML.parse(
      fs.readFileSync(path.join(this.o.substrateDir, this.substrate.manifest.recipe), 'utf8'),
    ) as RecipeDocument;
    const policy = initialPolicy({ standingRecipe: recipe, axes: this.o.axes, anchorSeeds: this.o.anchorSeeds });
    this.append(
      createEvent(
        CampaignStarted,
        {
          config: {
            campaignId: this.o.campaignId,
            substratePath: this.o.substrateDir,
            constitutionPath: this.o.constitutionPath,
            size: this.o.size,
            rounds: 6,
            workersPerRound: this.o.explorersPerRound + 1,
            axes: this.o.axes,
            anchorSeeds: this.o.anchorSeeds,
            seed: this.o.seed,
            workerKind: 'heuristic',
            metaKind: 'rules',
            leaderboard: 'local',
            executor: 'local',
            budgets: {
              gpuSeconds: 1e6,
              llmTokens: 0,
              submissionsPerRound: this.o.anchorSeeds + this.o.explorersPerRound + 4,
            },
          },
          constitutionSha256: this.o.constitution.sha256,
          constitution: this.o.constitution.constitution as DataOf<typeof CampaignStarted>['constitution'],
          initialPolicy: policy,
        },
        { campaignId: this.o.campaignId, streamId: `campaign-${this.o.campaignId}`, source: 'orchestrator' },
      ),
    );
    fs.mkdirSync(this.lbDir, { recursive: true });
    const secretSeed = this.o.seed * 7919 + 1;
    const seedFile = `${this.lbDir}.seed`;
    fs.writeFileSync(seedFile, `${secretSeed}\n`, { mode: 0o600 });
    await this.exec(
      'leaderboard.generate',
      { secret_seed: secretSeed, secret_seed_file: seedFile, out_dir: this.lbDir },
      this.o.substrateDir,
    );
    fs.rmSync(seedFile, { force: true });
    // The sandboxes only ever see prompts (id, prompt), never the answers.
    const rows = fs.readFileSync(path.join(this.lbDir, 'public.csv'), 'utf8').trimEnd().split('\n');
    const header = rows[0].split(',');
    const prompts = rows.map((line) => {
      const cells = parseCsvLine(line);
      return [cells[header.indexOf('id')], cells[header.indexOf('prompt')]].map(csvCell).join(',');
    });
    fs.writeFileSync(path.join(this.lbDir, 'prompts.csv'), prompts.join('\n') + '\n');
  }

  /** One round: plan, fork, train/evaluate every candidate, submit, score, collect, revise. */
  async round(round: number): Promise<void> {
    const { campaignId } = this.o;
    const policy = this.state().policy as RollingPolicy;
    const random = seededRandom(this.o.seed * 1000 + round);
    const anchorSeeds = Array.from({ length: policy.anchorSeeds }, (_, k) => 1000 * round + k + 1);
    // As the orchestrator plans: the anchor, the policy's prescribed runs (all but one slot), then explorers; every
    // run paired with the anchor's first seed.
    const prescribed = prescribedRuns(policy).slice(0, Math.max(0, this.o.explorersPerRound - 1));
    const planned: Array<DataOf<typeof RoundStarted>['candidates'][number]> = [
      {
        candidateId: `${campaignId}-r${round}-c0`,
        index: 0,
        axis: 'baseline' as Axis,
        isAnchor: true,
        seeds: anchorSeeds,
      },
      ...prescribed.map((r, k) => ({
        candidateId: `${campaignId}-r${round}-c${k + 1}`,
        index: k + 1,
        axis: r.axis,
        isAnchor: false,
        seeds: [anchorSeeds[0]],
        prescribed: r.prescribed,
      })),
      ...Array.from({ length: this.o.explorersPerRound - prescribed.length }, (_, k) => ({
        candidateId: `${campaignId}-r${round}-c${prescribed.length + k + 1}`,
        index: prescribed.length + k + 1,
        axis: policy.activeAxes[(k + round) % policy.activeAxes.length],
        isAnchor: false,
        seeds: [anchorSeeds[0]],
      })),
    ];
    const ctx = (
      source: 'orchestrator' | 'worker' | 'leaderboard' | 'collector' | 'meta-policy',
      streamId: string,
    ) => ({ campaignId, streamId, source });
    this.append(
      createEvent(
        RoundStarted,
        {
          round,
          policyRevision: policy.revision,
          policySha256: contentHash(policy),
          candidates: planned,
          seed: this.o.seed + round,
        },
        ctx('orchestrator', `campaign-${campaignId}`),
      ),
    );

    for (const c of planned) {
      const changes = c.isAnchor ? [] : c.prescribed ? c.prescribed.changes : proposeChange(c.axis, policy, random);
      const sandbox = path.join(this.o.workDir, c.candidateId);
      fs.cpSync(this.o.substrateDir, sandbox, { recursive: true });
      const recipe = applyRecipeChanges(policy.standingRecipe, changes);
      const recipePath = path.join(sandbox, this.substrate.manifest.recipe);
      fs.writeFileSync(recipePath, YAML.stringify(recipe));
      const checkpoints: CheckpointRun[] = [];
      let gpuSeconds = 0;
      const failures: ResultManifest['failureModes'] = [];
      for (const seed of c.seeds) {
        const ckDir = path.join(sandbox, 'runs', `seed-${seed}`);
        const dataDir = path.join(sandbox, 'runs', `data-${seed}`);
        const common = { sandbox, seed, size: this.o.size, device: 'cpu' };
        await this.exec('prepare-data', { ...common, recipe: recipePath, data_dir: dataDir }, sandbox);
        try {
          await this.exec(
            'train',
            {
              ...common,
              recipe: recipePath,
              data_dir: dataDir,
              base_checkpoint: path.join(sandbox, this.substrate.manifest.baseCheckpoint),
              checkpoints_dir: ckDir,
            },
            sandbox,
          );
        } catch (err) {
          failures.push({ kind: 'diverged', detail: `seed ${seed}: ${String((err as Error).message).split('\n')[0]}` });
          continue;
        }
        const summary = JSON.parse(fs.readFileSync(path.join(ckDir, 'train-summary.json'), 'utf8')) as {
          checkpoints: string[];
          seconds: number;
        };
        gpuSeconds += summary.seconds;
        for (const name of summary.checkpoints) {
          const dir = path.join(ckDir, name);
          const scores = path.join(dir, 'dev-scores.json');
          await this.exec('evaluate', { ...common, checkpoint: dir, split: 'dev', scores }, sandbox);
          const s = JSON.parse(fs.readFileSync(scores, 'utf8')) as {
            overall: number;
            domains: Record<string, { score: number }>;
          };
          const info = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')) as { step: number };
          checkpoints.push({
            checkpoint: path.relative(sandbox, dir),
            step: info.step,
            seed,
            dev: {
              overall: s.overall,
              domains: Object.fromEntries(Object.entries(s.domains).map(([d, v]) => [d, v.score])),
            },
            dir,
          });
        }
      }
      // Per seed: the checkpoint the policy's criterion prefers (later step on ties).
      // Per seed, the shared rule the evaluation service applies (@aevo/contracts checkpoint-selection).
      const bestOf = (seed: number) =>
        selectCheckpoint(
          checkpoints.filter((k) => k.seed === seed),
          policy.selectionCriterion,
        )?.chosen;
      const chosenPerSeed = c.seeds.map(bestOf).filter((k): k is CheckpointRun => k !== undefined);
      const chosen = chosenPerSeed[0] ?? null;
      const manifest = candidateManifest({
        campaignId,
        round,
        candidate: c,
        changes,
        recipeFile: this.substrate.manifest.recipe,
        checkpoints,
        chosen,
        criterion: policy.selectionCriterion.kind,
        failures,
        gpuSeconds,
      });
      this.append(
        createEvent(
          ManifestSubmitted,
          { candidateId: c.candidateId, round, manifest },
          ctx('worker', `candidate-${c.candidateId}`),
        ),
      );

      // Leaderboard: the anchor submits each seed (that is how LB seed noise gets measured), an explorer once.
      for (const k of chosenPerSeed) {
        const submissionId = `${c.candidateId}-s${k.seed}`;
        this.append(
          createEvent(
            SubmissionRequested,
            {
              round,
              submissionId,
              candidateId: c.candidateId,
              checkpoint: k.checkpoint,
              sandboxPath: sandbox,
              reason: c.isAnchor ? 'anchor seed' : 'explorer',
            },
            ctx('orchestrator', `campaign-${campaignId}`),
          ),
        );
        const predictions = path.join(this.lbDir, `${submissionId}.csv`);
        const scores = path.join(this.lbDir, `${submissionId}.json`);
        await this.exec(
          'predict',
          {
            sandbox,
            seed: k.seed,
            size: this.o.size,
            device: 'cpu',
            checkpoint: k.dir,
            prompts: path.join(this.lbDir, 'prompts.csv'),
            predictions,
          },
          sandbox,
        );
        await this.exec(
          'leaderboard.score',
          { predictions, answers: path.join(this.lbDir, 'public.csv'), scores, split: 'public' },
          this.o.substrateDir,
        );
        const s = JSON.parse(fs.readFileSync(scores, 'utf8')) as {
          overall: number;
          domains: Record<string, { score: number }>;
        };
        this.append(
          createEvent(
            LeaderboardScored,
            {
              submissionId,
              candidateId: c.candidateId,
              round,
              publicScore: s.overall,
              publicDomains: Object.fromEntries(Object.entries(s.domains).map(([d, v]) => [d, v.score])),
            },
            ctx('leaderboard', `submission-${submissionId}`),
          ),
        );
      }
    }

    // Collector (the pure core, exactly as the service runs it).
    const ledger = foldLedger(campaignId, this.log);
    const ready = roundReadiness(ledger, round);
    if (!ready.ready) throw new Error(`round ${round} not ready: ${ready.waitingFor.join('; ')}`);
    const { inputs, inputEventIds } = evidenceInputs(ledger, round);
    const evidence = collectRoundEvidence(inputs);
    const recorded = createEvent(
      RoundEvidenceRecorded,
      { round, evidence, evidenceSha256: evidenceHash(evidence), trigger: 'all-in', inputEventIds, llm: null },
      ctx('collector', `collector-${campaignId}-r${round}`),
    );
    this.append(recorded);

    // Meta-policy (the pure decider, exactly as the service runs it).
    const decided = metaPolicyDecider.decide(
      {
        type: 'ReviseFromEvidence',
        round,
        evidence,
        evidenceSha256: evidenceHash(evidence),
        constitution: this.o.constitution,
        proposal: null,
      },
      this.state(),
    );
    const defs = {
      PolicyRevised,
      ConstitutionViolationRefused,
      DecouplingSuspected,
      DecouplingProbed,
      DecouplingConfirmed,
      DecouplingRefuted,
    } as const;
    for (const d of decided) {
      if (d.type === 'CampaignStarted') continue;
      this.append(
        createEvent(defs[d.type], d.data as never, ctx('meta-policy', `meta-policy-${campaignId}-r${round}`)),
      );
    }
  }
}
