import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RecipeDocument, RollingPolicy } from '@aevo/contracts';
import type { EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore, type EventStore } from '@aevo/eventstore';
import { LocalExecutor } from '@aevo/executors';
import { createTestDb, policies, type TestDb } from '@aevo/testkit';
import {
  EventStoreCandidateLog,
  LocalEvaluationPort,
  LocalJobPort,
  candidateStreamId,
  mutationSeedOf,
  parseRecipeYaml,
  type ForkData,
  type RuntimePorts,
  type WorkerConfig,
} from '../src';
import { forkSandbox, writeFixtureSubstrate } from '../src/testing/fixture-substrate';

/** One suite's world: a real PostgreSQL schema, a local executor in a temp home, a substrate to fork. */
export interface Harness {
  db: TestDb;
  store: PostgresEventStore;
  home: string;
  substrateDir: string;
  executor: LocalExecutor;
  jobs: LocalJobPort;
  evaluator: LocalEvaluationPort;
  campaignId: string;
  ports(candidateId: string): RuntimePorts;
  /**
   * The harness's ports, with `before(events)` awaited before each append to the candidate stream reaches the store.
   */
  portsIntercepted(candidateId: string, before: (events: EventEnvelope[]) => Promise<void> | void): RuntimePorts;
  config(workerId?: string): WorkerConfig;
  fork(round: number, index: number, over?: Partial<ForkData>): ForkData;
  close(): Promise<void>;
}

export async function createHarness(
  opts: { substrateDir?: string; cpuSlots?: number; recipe?: string } = {},
): Promise<Harness> {
  const db = await createTestDb();
  const store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-worker-'));
  const substrateDir =
    opts.substrateDir ?? writeFixtureSubstrate(path.join(home, 'substrate'), { recipe: opts.recipe });
  const executor = new LocalExecutor({
    home,
    stateDir: path.join(home, 'exec', 'local-jobs'),
    logDir: path.join(home, 'exec', 'logs'),
    cpuSlots: opts.cpuSlots ?? 2,
    pollMs: 50,
    killGraceMs: 1000,
  });
  const snapshotId = placeSnapshot(substrateDir, home);
  await executor.recover();
  const campaignId = 'camp1';
  const jobs = new LocalJobPort(executor, campaignId, { logDir: path.join(home, 'exec', 'logs'), pollMs: 50 });
  const evaluator = new LocalEvaluationPort(jobs, {
    scoresDir: path.join(home, 'scores'),
    size: 'tiny',
    device: 'cpu',
  });
  return {
    db,
    store,
    home,
    substrateDir,
    executor,
    jobs,
    evaluator,
    campaignId,
    ports: (candidateId) => ({
      log: new EventStoreCandidateLog(store, candidateStreamId(candidateId)),
      jobs,
      evaluator,
    }),
    portsIntercepted: (candidateId, before) => ({
      log: new EventStoreCandidateLog(interceptAppends(store, before), candidateStreamId(candidateId)),
      jobs,
      evaluator,
    }),
    config: (workerId = 'w1') => ({
      campaignId,
      workerId,
      agentKind: 'heuristic',
      size: 'tiny',
      device: 'cpu',
      maxWaitSeconds: 120,
    }),
    fork(round, index, over = {}) {
      const candidateId = `${campaignId}-r${round}-c${index}`;
      const sandboxPath = path.join(home, 'sandboxes', `r${round}`, candidateId);
      if (!fs.existsSync(sandboxPath)) forkSandbox(substrateDir, sandboxPath);
      return {
        round,
        candidateId,
        index,
        axis: index === 0 ? 'baseline' : 'learning-rate',
        isAnchor: index === 0,
        seeds: [1],
        snapshotId,
        sandboxPath,
        policyRevision: 0,
        ...over,
      };
    },
    async close() {
      await executor.close();
      await store.close();
      await db.drop();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** `store`, with `before(events)` awaited before each append. */
function interceptAppends(store: EventStore, before: (events: EventEnvelope[]) => Promise<void> | void): EventStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'append')
        return async (...args: Parameters<EventStore['append']>) => {
          await before(args[2]);
          return target.append(...args);
        };
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The substrate as the substrate service would leave its snapshot: `<home>/snapshots/<sha256 of its path>`, read-only.
 */
function placeSnapshot(substrateDir: string, home: string): string {
  const snapshotId = createHash('sha256').update(fs.realpathSync(substrateDir)).digest('hex');
  const dir = path.join(home, 'snapshots', snapshotId);
  if (!fs.existsSync(dir)) forkSandbox(substrateDir, dir);
  return snapshotId;
}

export function fixturePolicy(substrateDir: string, over: Partial<RollingPolicy> = {}): RollingPolicy {
  const standing: RecipeDocument = parseRecipeYaml(fs.readFileSync(path.join(substrateDir, 'recipe.yaml'), 'utf8'));
  return policies.plain(0, standing, { rationale: 'test policy', ...over });
}

export { mutationSeedOf };
