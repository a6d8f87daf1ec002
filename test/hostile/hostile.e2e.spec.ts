import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { relayPayload } from '@aevo/eventstore';
import { eventually } from '@aevo/testkit';
import { expectAuditVerifies } from '../e2e/assertions';
import { E2eControlPlane, ROOT } from '../e2e/harness';

/**
 * The hostile-candidate suite: two campaigns run side by side in one control plane on copies of the simulated
 * substrate, identical but for one candidate of the second, whose pipeline (candidate code, as a worker could write
 * it) tries every escape in hostile-build.mjs inside its jobs. Each attempt must be refused or contained; the
 * snapshots and the substrate sources stay byte-identical; the three other candidates are submitted and scored with
 * exactly the dev scores they get without it; the hostile one is invalidated by a FrozenPathViolated naming what it
 * left behind; a key it prints leaves no trace in any event or file; both campaigns complete and the log verifies.
 */
describe('hostile candidate: one of four candidates attacks from inside its jobs', () => {
  const plane = new E2eControlPlane();
  const clean = 'hostile-clean';
  const attacked = 'hostile-attack';
  const hostileCandidate = `${attacked}-r1-c2`;
  const canary = `canary-${randomBytes(16).toString('hex')}`;
  let work: string;
  let sources: { clean: string; hostile: string };
  let sourceHashes: { clean: string; hostile: string };

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-hostile-src-'));
    await plane.start({
      AEVO_LOCAL_SLOTS: '2',
      AEVO_ORCHESTRATOR_TICK_MS: '2000',
      AEVO_COLLECTOR_TICK_MS: '2000',
      // Small limits, so the resource attacks hit them quickly (the defaults are sized for real training).
      AEVO_JOB_MAX_FILE_MIB: '64',
      AEVO_JOB_TMP_MIB: '64',
      AEVO_JOB_MAX_PROCESSES: '128',
      // A credential every service has in its environment: no job may see it, no event or file may carry it.
      AEVO_TEST_CANARY_TOKEN: canary,
      // StartCampaign reads substrates only under configured roots: the two copies live in `work`.
      AEVO_SUBSTRATE_ROOTS: [path.join(ROOT, 'substrate'), work].join(path.delimiter),
    });
    sources = { clean: path.join(work, 'clean'), hostile: path.join(work, 'hostile') };
    const simulated = path.join(ROOT, 'substrate', 'simulated');
    for (const dir of Object.values(sources))
      fs.cpSync(simulated, dir, { recursive: true, filter: (src) => !/(^|\/)(runs|node_modules)$/.test(src) });
    const honest = path.join(sources.hostile, 'pipeline');
    fs.renameSync(path.join(honest, 'build.mjs'), path.join(honest, 'build-original.mjs'));
    const template = fs.readFileSync(path.join(__dirname, 'hostile-build.mjs'), 'utf8');
    fs.writeFileSync(
      path.join(honest, 'build.mjs'),
      template
        .replaceAll('__HOME__', plane.home)
        .replaceAll('__SOURCE__', sources.hostile)
        .replaceAll('__TARGET__', `${hostileCandidate}-`)
        .replaceAll('__CANARY_B64__', Buffer.from(canary).toString('base64')),
    );
    sourceHashes = { clean: treeHash(sources.clean), hostile: treeHash(sources.hostile) };
  }, 300_000);

  afterAll(async () => {
    const code = await plane.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
    expect(code).toBe(0);
  }, 120_000);

  it('contains every attempt, leaves the evidence intact, and the other candidates score as without it', async () => {
    const start = (id: string, substrate: string) =>
      plane.cli([
        'campaign',
        'start',
        '--id',
        id,
        '--substrate',
        substrate,
        '--rounds',
        '1',
        '--workers',
        '4',
        '--seed',
        '11',
        '--submissions',
        '4',
        '--json',
      ]);
    const started = await Promise.all([start(clean, sources.clean), start(attacked, sources.hostile)]);
    for (const s of started) expect({ code: s.code, stderr: s.stderr }).toEqual({ code: 0, stderr: '' });
    await eventually(
      async () =>
        (await plane.count(clean, 'CampaignCompleted')) === 1 &&
        (await plane.count(attacked, 'CampaignCompleted')) === 1,
      600_000,
      1000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${plane.logTails()}`);
    });

    // Every attack ran in the hostile candidate's prepare-data job, and each was refused or had no effect.
    const prepJobs = (await plane.events(attacked, ['JobRequested']))
      .map((e) => (e.data as { spec: { jobId: string; candidateId: string; entrypoint: string } }).spec)
      .filter((s) => s.candidateId === hostileCandidate && s.entrypoint === 'prepare-data');
    expect(prepJobs.length).toBeGreaterThan(0);
    const log = fs.readFileSync(path.join(plane.home, 'logs', `${prepJobs[0].jobId}.log`), 'utf8');
    const attacks = [...log.matchAll(/^attack ([a-z-]+): (.*)$/gm)].map((m) => ({ name: m[1], result: m[2] }));
    expect(attacks.map((a) => a.name)).toEqual(ATTACKS);
    expect(attacks.filter((a) => !a.result.startsWith('blocked (')).map((a) => `${a.name}: ${a.result}`)).toEqual([]);
    expect(log).not.toContain(canary);
    expect(log).toMatch(/stolen key: \[redacted/);

    // The hostile candidate is invalidated for what it planted in its output, by name; it is never submitted.
    const violations = (await plane.events(attacked, ['FrozenPathViolated'])).map(
      (e) => e.data as { candidateId: string; path: string; kind: string; detail: string },
    );
    expect(violations.length).toBeGreaterThan(0);
    expect(new Set(violations.map((v) => v.candidateId))).toEqual(new Set([hostileCandidate]));
    expect(violations.map((v) => `${v.kind} ${v.path}`)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^symlink-escape .*\/answers$/)]),
    );
    const submitted = (await plane.events(attacked, ['SubmissionRequested']))
      .map((e) => (e.data as { candidateId: string }).candidateId)
      .sort();
    expect(submitted).toEqual([0, 1, 3].map((i) => `${attacked}-r1-c${i}`));
    const scored = (await plane.events(attacked, ['LeaderboardScored']))
      .map((e) => (e.data as { candidateId: string }).candidateId)
      .sort();
    expect(scored).toEqual(submitted);

    // The others' dev scores are exactly those of the same candidates in the campaign without the attacker.
    const devScores = async (campaignId: string) =>
      Object.fromEntries(
        (await plane.events(campaignId, ['CheckpointEvaluated']))
          .map((e) => e.data as { candidateId: string; checkpoint: string; dev: unknown })
          .map((d) => [
            `${d.candidateId.replace(campaignId, '')} ${d.checkpoint.replace(/^.*\/(runs\/)/, '$1')}`,
            d.dev,
          ]),
      );
    const [cleanScores, attackedScores] = [await devScores(clean), await devScores(attacked)];
    const others = (scores: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(scores).filter(([k]) => !k.startsWith('-r1-c2 ')));
    expect(Object.keys(others(attackedScores)).length).toBeGreaterThan(0);
    expect(others(attackedScores)).toEqual(others(cleanScores));

    // Snapshots: every pinned file still has the hash its SubstrateSnapshotted event pinned; the sources are untouched.
    for (const id of [clean, attacked]) {
      const [snap] = await plane.events(id, ['SubstrateSnapshotted']);
      const d = snap.data as { snapshotPath: string; frozenSha256: Record<string, string> };
      for (const [rel, sha] of Object.entries(d.frozenSha256))
        expect(`${rel} ${fileHash(path.join(d.snapshotPath, rel))}`).toBe(`${rel} ${sha}`);
    }
    expect({ clean: treeHash(sources.clean), hostile: treeHash(sources.hostile) }).toEqual(sourceHashes);

    // Nothing landed outside the sandbox, and the canary is in no event and no file of AEVO_HOME.
    const everything = listFiles(plane.home);
    expect(everything.filter((f) => f.endsWith('hostile-was-here'))).toEqual([]);
    expect(
      everything.filter((f) => fs.statSync(f).size < 64 * 1024 * 1024 && fs.readFileSync(f).includes(canary)),
    ).toEqual([]);
    const events = await plane.store.readAll({});
    expect(events.filter((e) => JSON.stringify(e).includes(canary)).map((e) => `${e.type} ${e.streamId}`)).toEqual([]);

    // Both campaigns complete; the whole log replays and verifies.
    for (const id of [clean, attacked]) expect(await plane.count(id, 'CampaignCompleted')).toBe(1);
    await expectAuditVerifies(plane, 2);
  });

  it(
    'a forger on NATS gets nothing acted on: a new JobRequested, a ' +
      'stored one with a changed byte, a CampaignStarted',
    async () => {
      const stored = (await plane.events(clean, ['JobRequested']))[0];
      expect(stored).toBeDefined();
      const spec = (stored.data as { spec: { jobId: string; argv: string[] } }).spec;
      const forgedJobId = `${spec.jobId}-forged`;
      const subject = (campaignId: string, type: string) => `${plane.names.subjectPrefix}.evt.${campaignId}.${type}`;
      const forgeries = [
        // Never stored: a new id, a new job, a command of the forger's choosing.
        {
          subject: subject(clean, 'JobRequested'),
          body: relayPayload({
            ...stored,
            id: randomUUID(),
            position: stored.position + 100_000,
            data: { spec: { ...spec, jobId: forgedJobId, argv: ['sh', '-c', 'echo forged'] } },
          }),
        },
        // The stored event, same id and position, one byte of its command changed.
        {
          subject: subject(clean, 'JobRequested'),
          body: relayPayload(stored).replace(`"jobId":"${spec.jobId}"`, `"jobId":"${spec.jobId.slice(0, -1)}X"`),
        },
        // A campaign that does not exist, as the leaderboard and workers would see it start.
        ...(await plane.events(clean, ['CampaignStarted'])).map((e) => ({
          subject: subject('forged-campaign', 'CampaignStarted'),
          body: relayPayload({
            ...e,
            id: randomUUID(),
            campaignId: 'forged-campaign',
            streamId: 'campaign-forged-campaign',
          }),
        })),
      ];
      expect(forgeries).toHaveLength(3);
      expect(forgeries[1].body).not.toBe(relayPayload(stored));
      const before = await plane.store.headPosition();
      // The strongest forger: one holding the relay's own credentials, the only user nats-server lets publish events.
      const nc = await connect({ servers: plane.names.url, ...plane.nats.credentialsOf('relay') });
      try {
        const js = jetstream(nc);
        for (const f of forgeries) await js.publish(f.subject, f.body);
      } finally {
        await nc.close();
      }
      // Every consumer of these types has read them and said why it dropped them.
      const logOf = (service: string) => fs.readFileSync(path.join(plane.home, 'logs', `${service}.log`), 'utf8');
      await eventually(
        () =>
          (logOf('dispatch').match(/dropped message \d+ on \S+JobRequested: not a stored event/g)?.length ?? 0) >= 2,
        60_000,
        250,
      );
      await eventually(
        () =>
          ['leaderboard', 'substrate', 'worker'].some((s) =>
            /on \S+forged-campaign\.CampaignStarted: not a stored event/.test(logOf(s)),
          ),
        60_000,
        250,
      );
      await new Promise((r) => setTimeout(r, 1000));
      // Nothing was appended (no job, no dead letter, no campaign), and dispatch says why it dropped them.
      const after = await plane.store.readAll({ fromPosition: before });
      expect(after.map((e) => `${e.type} ${e.campaignId}`)).toEqual([]);
      expect(await plane.store.readAll({ campaignId: 'forged-campaign' })).toEqual([]);
      expect(fs.existsSync(path.join(plane.home, 'dispatch', 'local-jobs', forgedJobId))).toBe(false);
      expect(logOf('dispatch').match(/dropped message \d+ on \S+JobRequested: not a stored event/g)?.length).toBe(2);
      // A service's own credentials cannot even publish an event: nats-server refuses it.
      const asDispatch = await connect({ servers: plane.names.url, ...plane.nats.credentialsOf('dispatch') });
      try {
        const refused = await jetstream(asDispatch, { timeout: 3000 })
          .publish(forgeries[0].subject, forgeries[0].body)
          .then(
            () => 'accepted',
            (err: Error) => err.message,
          );
        expect(refused).not.toBe('accepted');
      } finally {
        await asDispatch.close();
      }
    },
  );
});

/** The attacks hostile-build.mjs makes, in order. */
const ATTACKS = [
  'write-frozen-metric',
  'write-frozen-evaluator',
  'write-snapshot',
  'write-substrate-source',
  'read-hidden-answers',
  'read-leaderboard-secret',
  'read-other-sandboxes',
  'read-service-logs',
  'read-process-environments',
  'read-parent-environ',
  'see-other-processes',
  'kill-sibling-jobs',
  'hardlink-frozen-into-pipeline',
  'hardlink-frozen-into-output',
  'plant-symlink-to-leaderboard',
  'plant-symlink-to-frozen',
  'write-outside-by-dotdot',
  'connect-postgresql',
  'connect-nats',
  'fork-bomb',
  'fill-the-disk',
  'fill-tmp',
];

function fileHash(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = fs.lstatSync(p);
    if (st.isDirectory()) out.push(...listFiles(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** One hash over every file's path and bytes (and every symlink's target) under `dir`. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      h.update(`${path.relative(dir, p)}\0${st.mode & 0o777}\0`);
      if (st.isDirectory()) walk(p);
      else if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
      else h.update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}
