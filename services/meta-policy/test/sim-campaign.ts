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
  canonicalJson,
  contentHash,
  createEvent,
  selectCheckpoint,
  seededRandom,
  type Axis,
  type DataOf,
  type DeadEnd,
  type EventEnvelope,
  type RecipeChange,
  type RecipeDocument,
  type RollingPolicy,
  type ScoreVector,
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

const run = promisify(execFile);

function getPath(doc: unknown, dotted: string): unknown {
  let cur = doc;
  for (const seg of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

const sig3 = (x: number) => Number(x.toPrecision(3));

/** Does a change run into a dead end? (path covers, and the direction or the exact value matches) */
export function hitsDeadEnd(c: RecipeChange, deadEnds: readonly DeadEnd[]): boolean {
  const dir =
    typeof c.from === 'number' && typeof c.to === 'number'
      ? c.to > c.from
        ? 'increase'
        : c.to < c.from
          ? 'decrease'
          : 'set'
      : 'set';
  return deadEnds.some((d) => {
    if (!d.path || !(c.path === d.path || c.path.startsWith(`${d.path}.`))) return false;
    if (!d.direction) return true;
    if (d.direction === 'set') return d.value === undefined || canonicalJson(d.value) === canonicalJson(c.to);
    return d.direction === dir;
  });
}

/**
 * The heuristic candidate generator: one change on the worker's axis, from the standing recipe, never a
 * registered dead end. Under `transfer-to-lb` the data axes rebalance the domains the policy names as
 * over-represented instead of adding data for them.
 */
export function proposeChange(axis: Axis, policy: RollingPolicy, random: () => number): RecipeChange[] {
  const recipe = policy.standingRecipe;
  const num = (p: string) => {
    const v = getPath(recipe, p);
    return typeof v === 'number' ? v : null;
  };
  const scaled = (p: string, factors: number[], integer = false): RecipeChange[][] => {
    const v = num(p);
    if (v === null) return [];
    return factors
      .map((f) => [{ path: p, from: v, to: integer ? Math.max(1, Math.round(v * f)) : sig3(v * f) }])
      .filter((c) => c[0].to !== v);
  };
  const transfer = policy.objective === 'transfer-to-lb';
  const mix = (getPath(recipe, 'data.mix') ?? {}) as Record<string, number>;
  const rebalanceRule = policy.evidenceRules.find((r) => r.id === 'rebalance-domains');
  const overRepresented = rebalanceRule ? Object.keys(mix).filter((d) => rebalanceRule.rule.includes(d)) : [];
  const rebalance = (): RecipeChange[][] => {
    const moves: RecipeChange[][] = [];
    for (const d of overRepresented) moves.push([{ path: `data.mix.${d}`, from: mix[d], to: sig3(mix[d] * 0.5) }]);
    for (const d of Object.keys(mix).filter((x) => !overRepresented.includes(x)))
      moves.push([{ path: `data.mix.${d}`, from: mix[d], to: sig3(mix[d] * 1.5) }]);
    return moves;
  };
  let moves: RecipeChange[][] = [];
  switch (axis) {
    case 'learning-rate':
      moves = scaled('train.lr', [0.5, 0.7, 1.5, 2]);
      break;
    case 'schedule': {
      const s = getPath(recipe, 'train.schedule');
      moves = ['cosine', 'linear', 'constant']
        .filter((x) => x !== s)
        .map((x) => [{ path: 'train.schedule', from: s, to: x }]);
      break;
    }
    case 'warmup':
      moves = scaled('train.warmup_steps', [0.5, 2], true);
      break;
    case 'steps':
      moves = scaled('train.steps', [0.75, 1.5], true);
      break;
    case 'clipping':
      moves = scaled('train.grad_clip', [0.5, 2]);
      break;
    case 'data-mix':
      moves = transfer
        ? rebalance()
        : Object.keys(mix).map((d) => [{ path: `data.mix.${d}`, from: mix[d], to: sig3(mix[d] * 2) }]);
      break;
    case 'synthetic-data': {
      const c = num('data.synthetic.count');
      // Under transfer-to-lb the only synthetic move left is to take generated rows out again.
      moves =
        c === null
          ? []
          : transfer
            ? c > 0
              ? [[{ path: 'data.synthetic.count', from: c, to: Math.round(c / 2) }]]
              : []
            : [[{ path: 'data.synthetic.count', from: c, to: c === 0 ? 4000 : c * 2 }]];
      break;
    }
    default:
      moves = [];
  }
  const admissible = moves.filter((m) => m.every((c) => !hitsDeadEnd(c, policy.deadEnds)));
  if (admissible.length === 0) return [];
  return admissible[Math.floor(random() * admissible.length)];
}

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

interface CheckpointRun {
  checkpoint: string;
  step: number;
  seed: number;
  dev: ScoreVector;
  dir: string;
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
      const manifest = ResultManifest.parse({
        campaignId,
        round,
        candidateId: c.candidateId,
        axis: c.axis,
        isAnchor: c.isAnchor,
        status: chosen ? 'completed' : 'failed',
        hypothesis: c.isAnchor
          ? 'standing recipe, several seeds'
          : c.prescribed
            ? c.prescribed.hypothesis
            : changes.length > 0
              ? `change ${changes.map((x) => x.path).join(', ')}`
              : 'no admissible change',
        recipeChanges: changes,
        recipeDiff: changes
          .map(
            (x) =>
              `--- a/recipe.yaml\n+++ b/recipe.yaml\n-${x.path}: ${JSON.stringify(x.from)}\n+${x.path}: ${JSON.stringify(x.to)}`,
          )
          .join('\n'),
        filesChanged: changes.length > 0 ? [this.substrate.manifest.recipe] : [],
        seeds: c.seeds,
        checkpoints: checkpoints.map(({ checkpoint, step, seed, dev }) => ({ checkpoint, step, seed, dev })),
        chosenCheckpoint: chosen
          ? {
              checkpoint: chosen.checkpoint,
              seed: chosen.seed,
              criterion: policy.selectionCriterion.kind,
              reason: 'best by the policy criterion',
              dev: chosen.dev,
            }
          : null,
        failureModes: failures,
        cost: {
          gpuSeconds: Math.round(gpuSeconds * 1000) / 1000,
          inputTokens: 0,
          outputTokens: 0,
          toolCalls: 0,
          jobs: 1 + c.seeds.length,
        },
        traceLength: 0,
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

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
