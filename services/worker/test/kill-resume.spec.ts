import { execFileSync, fork as forkProcess, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ResultManifest, type EventEnvelope, type RollingPolicy } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { createTestDb, policies, type TestDb } from '@aevo/testkit';
import {
  candidateStreamId,
  forkSandbox,
  parseRecipeYaml,
  writeFixtureSubstrate,
  type ForkData,
} from '@aevo/worker-kit';

jest.setTimeout(900_000);

const ROOT = path.resolve(__dirname, '../../..');
const RUN_ONE = path.join(ROOT, 'services/worker/dist/cli/run-one.js');

/** Every launch of a job process, as the fixture substrate logs it: "<run dir> <jobId>". */
function launches(sandbox: string): string[] {
  const out: string[] = [];
  for (const top of ['runs', 'prepared']) {
    const dir = path.join(sandbox, top);
    if (!fs.existsSync(dir)) continue;
    for (const d of fs.readdirSync(dir)) {
      // the fixture logs each launch inside its output: prepared/<sha>/data or runs/<run>/ckpt
      const f = path.join(dir, d, top === 'runs' ? 'ckpt' : 'data', 'launches.log');
      if (fs.existsSync(f))
        for (const l of fs.readFileSync(f, 'utf8').trim().split('\n')) out.push(`${top}/${d} ${l.split(' ')[0]}`);
    }
  }
  return out.sort();
}

/** Every evaluate process the fixture substrate ran, as "<jobId> <checkpoint>" (logged beside each scores file). */
function evaluations(aevoHome: string): string[] {
  const scores = path.join(aevoHome, 'worker-local', 'scores');
  return fs.existsSync(scores)
    ? fs.readdirSync(scores).flatMap((d) => {
        const f = path.join(scores, d, 'evaluations.log');
        return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim().split('\n') : [];
      })
    : [];
}

/** The snapshot every fork here names: a copy of the fixture substrate under AEVO_HOME. */
const SNAPSHOT = 'b'.repeat(64);

describe('worker process killed (SIGKILL) at each step of its trace in turn', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let home: string;
  let substrateDir: string;
  let policy: RollingPolicy;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    // The worker runs as its own process from the built output, as it would be deployed.
    execFileSync('npx', ['tsc', '-p', 'services/worker/tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'inherit',
      timeout: 300_000,
    });
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 4 });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-kill-'));
    // Slow training (0.4 s) so that many kills land while a job runs: the job must be re-attached, not relaunched.
    const recipe = fs
      .readFileSync(path.join(writeFixtureSubstrate(path.join(home, 'tmp-substrate')), 'recipe.yaml'), 'utf8')
      .replace('sleep_ms: 0', 'sleep_ms: 400');
    substrateDir = writeFixtureSubstrate(path.join(home, 'substrate'), { recipe });
    // The snapshot the forks name, where the worker's jobs mount their pinned paths from.
    forkSandbox(substrateDir, path.join(aevoHome(), 'snapshots', SNAPSHOT));
    policy = policies.plain(0, parseRecipeYaml(recipe), { anchorSeeds: 1, rationale: 'kill test' });
  }, 400_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await store?.close();
    await db?.drop();
    if (home && !process.env.AEVO_KEEP_TEST_HOME) fs.rmSync(home, { recursive: true, force: true });
  });

  const aevoHome = () => path.join(home, 'aevo-home');
  const forkFor = (n: number): ForkData => {
    const candidateId = `kill-r1-c${n}`;
    const sandboxPath = path.join(aevoHome(), 'sandboxes', candidateId);
    forkSandbox(substrateDir, sandboxPath);
    // Same index, axis and seeds for every candidate: the worker's decisions are a function of these, so every
    // run must end with the same recipe change and the same scores.
    return {
      round: 1,
      candidateId,
      index: 3,
      axis: 'learning-rate',
      isAnchor: false,
      seeds: [7],
      snapshotId: SNAPSHOT,
      sandboxPath,
      policyRevision: 0,
    };
  };

  /**
   * Runs the worker process; with `killAt`, SIGKILLs it once its candidate stream holds that many events. Killing
   * by stream version, not only by trace event, also hits the moments between a step's intent and its
   * JobRequested / EvaluationRequested, and between JobRequested and the job's hand-over.
   */
  function runWorker(
    fork: ForkData,
    killAt: number | null,
  ): Promise<{ code: number | null; signal: string | null; maxVersion: number; stdout: string }> {
    const inputs = path.join(home, `${fork.candidateId}.json`);
    fs.writeFileSync(inputs, JSON.stringify({ campaignId: 'kill', fork, policy, size: 'tiny' }));
    const child = forkProcess(RUN_ONE, [inputs], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        ...process.env,
        AEVO_DATABASE_URL: db.url,
        AEVO_DB_SCHEMA: db.schema,
        AEVO_HOME: aevoHome(),
        AEVO_LOCAL_SLOTS: '2',
        AEVO_WORKER_ID: `w-${fork.candidateId}-${killAt ?? 'final'}`,
        AEVO_WORKER_STEP_GATE: killAt === null ? '' : 'ipc',
      },
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let maxVersion = 0;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('message', (m: { version: number }) => {
      maxVersion = Math.max(maxVersion, m.version);
      if (killAt !== null && m.version >= killAt) child.kill('SIGKILL');
      else child.send({ go: true });
    });
    return new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        children.delete(child);
        if (code !== 0 && signal === null) process.stderr.write(stderr);
        resolve({ code, signal, maxVersion, stdout });
      }),
    );
  }

  const stream = (id: string): Promise<EventEnvelope[]> => store.readStream(candidateStreamId(id));
  const traceEvents = (events: EventEnvelope[]) => events.filter((e) => e.type === 'TraceStepRecorded').length;

  it('completes the candidate exactly once and never launches a job twice, whatever step it dies at', async () => {
    const ref = forkFor(0);
    const clean = await runWorker(ref, null);
    expect(clean.code).toBe(0);
    const refEvents = await stream(ref.candidateId);
    const total = refEvents.length;
    expect(traceEvents(refEvents)).toBeGreaterThan(12);
    const refManifest = ResultManifest.parse(
      (refEvents.find((e) => e.type === 'ManifestSubmitted')!.data as { manifest: unknown }).manifest,
    );
    expect({ status: refManifest.status, failureModes: refManifest.failureModes }).toEqual({
      status: 'completed',
      failureModes: [],
    });

    for (let k = 1; k < total; k++) {
      const fork = forkFor(k);
      const killed = await runWorker(fork, k);
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.maxVersion).toBeGreaterThanOrEqual(k);
      expect((await stream(fork.candidateId)).length).toBe(killed.maxVersion);
      const resumed = await runWorker(fork, null);
      expect(resumed.code).toBe(0);
      // killed after its last append (outcome + ManifestSubmitted land together), the candidate was already done
      const finishedBeforeKill = killed.maxVersion >= total;
      expect(JSON.parse(resumed.stdout.trim().split('\n').pop()!)).toEqual({
        outcome: finishedBeforeKill ? 'already-finished' : 'submitted',
        status: 'completed',
      });

      const events = await stream(fork.candidateId);
      expect(events.filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'WorkerStarted')).toHaveLength(finishedBeforeKill ? 1 : 2);
      expect(traceEvents(events)).toBe(traceEvents(refEvents));
      const requested = events
        .filter((e) => e.type === 'JobRequested')
        .map((e) => (e.data as { spec: { jobId: string } }).spec.jobId);
      expect(new Set(requested).size).toBe(requested.length);
      // one process per job: prepare once, train once (re-attached after the crash, never relaunched)
      const l = launches(fork.sandboxPath);
      expect(l).toHaveLength(2);
      expect(new Set(l.map((x) => x.split(' ')[1])).size).toBe(2);
      // a finished evaluation is not repeated: one request, one evaluate process per checkpoint
      expect(events.filter((e) => e.type === 'EvaluationRequested')).toHaveLength(1);
      const evals = evaluations(aevoHome()).filter((l) => l.startsWith(fork.candidateId));
      expect(evals).toHaveLength(refManifest.checkpoints.length);
      expect(new Set(evals).size).toBe(evals.length);
      const m = ResultManifest.parse(
        (events.find((e) => e.type === 'ManifestSubmitted')!.data as { manifest: unknown }).manifest,
      );
      expect(m.recipeChanges).toEqual(refManifest.recipeChanges);
      expect(m.checkpoints.map((c) => c.dev)).toEqual(refManifest.checkpoints.map((c) => c.dev));
      expect(m.chosenCheckpoint?.dev).toEqual(refManifest.chosenCheckpoint?.dev);
    }
  });
});
