import { z } from 'zod';

export const EntrypointName = z.enum(['prepare-data', 'train', 'evaluate', 'predict']);
export type EntrypointName = z.infer<typeof EntrypointName>;

export const Placeholder = z.enum([
  'sandbox',
  'recipe',
  'data_dir',
  'base_checkpoint',
  'checkpoints_dir',
  'checkpoint',
  'split',
  'scores',
  'prompts',
  'predictions',
  'seed',
  'size',
  'device',
  'secret_seed',
  'secret_seed_file',
  'out_dir',
  'answers',
]);
export type Placeholder = z.infer<typeof Placeholder>;

export const Entrypoint = z
  .object({
    command: z.array(z.string().min(1)).min(1, 'expected at least the program to run'),
    inputs: z.array(Placeholder).default([]),
    outputs: z.array(Placeholder).default([]),
    timeoutSeconds: z.number().int().positive().optional(),
  })
  .strict();

/** The most ranks (nodes) one job may span: a bound on what one substrate.yaml line can ask of a cluster. */
export const MAX_JOB_NODES = 64;

/**
 * What one entrypoint's job asks for. `cpu`, `memoryMiB` and `gpu` are per node (per rank): a job with `nodes: n`
 * runs n ranks, each with that much, and so holds n times as much in all.
 */
export const JobResources = z
  .object({
    cpu: z.number().positive(),
    memoryMiB: z.number().int().positive(),
    gpu: z.number().int().min(0),
    /**
     * Ranks of a multi-node job (each a pod on Kubernetes, a process on the local executor), given the rendezvous
     * environment torchrun reads (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, NODE_RANK). Absent means 1, a job
     * exactly as before; it is left absent rather than defaulted so that specs without it stay byte-identical.
     */
    nodes: z
      .number({ error: 'expected an integer number of nodes (ranks), at least 1' })
      .int('expected an integer number of nodes (ranks)')
      .min(1, 'expected at least 1 node')
      .max(MAX_JOB_NODES, `expected at most ${MAX_JOB_NODES} nodes`)
      .optional(),
  })
  .strict()
  .describe('Per-entrypoint job resources; cpu, memoryMiB and gpu are per node (per rank), nodes defaults to 1.');
export type JobResources = z.infer<typeof JobResources>;

/** The ranks a job runs as: `resources.nodes`, 1 when absent. */
export const jobNodes = (resources: Pick<JobResources, 'nodes'>): number => resources.nodes ?? 1;

/** `substrate/<name>/substrate.yaml`: what the control plane needs to fork, run and judge a substrate. */
export const SubstrateManifest = z
  .object({
    apiVersion: z.literal('aevo.dev/v1'),
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a lowercase name'),
    version: z.string().min(1),
    description: z.string().default(''),
    entrypoints: z
      .object({
        'prepare-data': Entrypoint,
        train: Entrypoint,
        evaluate: Entrypoint,
        predict: Entrypoint,
      })
      .strict(),
    recipe: z.string().min(1),
    /** Globs of what workers may change (copied into each sandbox). Must not overlap `frozen`. */
    editable: z.array(z.string().min(1)).min(1),
    /**
     * Globs of what is hash-pinned (shared read-only into each sandbox and verified). Files matched by neither
     * list are protected like frozen ones; only `editable` files may change.
     */
    frozen: z.array(z.string().min(1)).min(1),
    /**
     * Globs left out of the snapshot (build caches, local runs). `__pycache__`, `*.pyc`, `.pytest_cache` and
     * `.git` are always left out.
     */
    ignore: z.array(z.string().min(1)).default([]),
    baseCheckpoint: z.string().min(1),
    resources: z
      .object({ 'prepare-data': JobResources, train: JobResources, evaluate: JobResources, predict: JobResources })
      .strict(),
    metric: z
      .object({
        name: z.string().min(1),
        higherIsBetter: z.boolean().default(true),
        domains: z.array(z.string().min(1)).min(1),
      })
      .strict(),
    outputs: z
      .object({
        checkpointDir: z.string().min(1),
        scores: z.string().min(1),
        predictions: z.string().min(1),
      })
      .strict(),
    sizes: z.array(z.string().min(1)).min(1).default(['tiny', 'cpu', 'gpu']),
    /**
     * A Markdown file of the substrate (a frozen path) holding the rules its workers follow, replacing worker-kit's
     * default brief (as autoresearch's program.md does). Its sha256 is recorded in each WorkerStarted.
     */
    workerBrief: z.string().min(1).optional(),
    /**
     * How the local leaderboard builds and scores the hidden split. Run by the leaderboard service OUTSIDE every
     * sandbox; the secret seed never enters a sandbox.
     */
    leaderboard: z
      .object({
        /**
         * Writes public.csv and private.csv (id,prompt,answer,domain) into {out_dir} from the secret seed: prefer
         * {secret_seed_file} (a file holding it, so the seed never shows in a process list) over {secret_seed}.
         */
        generate: z.array(z.string().min(1)).min(1),
        /** Scores {predictions} (id,answer) against {answers}; writes {scores} JSON (DevScores shape). */
        score: z.array(z.string().min(1)).min(1),
      })
      .strict()
      .optional(),
  })
  .strict();
export type SubstrateManifest = z.infer<typeof SubstrateManifest>;

/** `checkpoint.json` inside every checkpoint directory. */
export const CheckpointInfo = z
  .object({
    step: z.number().int().min(0),
    seed: z.number().int(),
    trainLoss: z.number().nullable(),
    recipeSha256: z.string(),
    size: z.string(),
    device: z.string(),
    diverged: z.boolean(),
  })
  .passthrough();
export type CheckpointInfo = z.infer<typeof CheckpointInfo>;

/** `train-summary.json` in the checkpoints directory. */
export const TrainSummary = z
  .object({
    status: z.enum(['ok', 'diverged']),
    steps: z.number().int().min(0),
    checkpoints: z.array(z.string()),
    finalLoss: z.number().nullable(),
    seconds: z.number().min(0),
    device: z.string(),
  })
  .passthrough();
export type TrainSummary = z.infer<typeof TrainSummary>;

export const DomainScore = z.object({ score: z.number().min(0).max(1), n: z.number().int().min(0) }).strict();

/** Output of the `evaluate` entrypoint: per-domain scores of one checkpoint on one split. */
export const DevScores = z
  .object({
    checkpoint: z.string().min(1),
    split: z.string().min(1),
    overall: z.number().min(0).max(1),
    n: z.number().int().min(0),
    domains: z.record(z.string(), DomainScore),
  })
  .strict();
export type DevScores = z.infer<typeof DevScores>;
