import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { RoundStarted, StartCampaign, StartRound, type CommandReply } from '@aevo/contracts';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { eventually, REPO_ROOT, requireBuiltServices, startServiceHarness, type ServiceHarness } from '@aevo/testkit';

jest.setTimeout(180_000);

/** Two orchestrator processes (the built service, as deployed): the race, the embedded relay, and SIGTERM. */
describe('orchestrator processes', () => {
  let h: ServiceHarness;
  let substrateDir: string;
  const procs: Array<{ child: ChildProcess; log: string[]; exit: Promise<number | null> }> = [];

  beforeAll(async () => {
    requireBuiltServices(REPO_ROOT, ['orchestrator']);
    // No module in this process and no relay of the harness's: the processes' embedded relays publish (one leader).
    h = await startServiceHarness([], { service: 'orchestrator', processRelay: true, commandTimeoutMs: 30_000 });
    substrateDir = writeSubstrateFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-proc-')));
    for (let i = 0; i < 2; i++) {
      const child = h.spawn('orchestrator', { AEVO_SUBSTRATE_ROOTS: substrateDir });
      // Each process's own output (the harness keeps all of it together), to see each one listening.
      const log: string[] = [];
      child.stdout?.on('data', (d) => log.push(String(d)));
      child.stderr?.on('data', (d) => log.push(String(d)));
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      procs.push({ child, log, exit });
    }
    await eventually(() => procs.every((p) => p.log.join('').includes('listening:')), 60_000);
  });

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await h?.close();
    if (substrateDir) fs.rmSync(substrateDir, { recursive: true, force: true });
  });

  it('race to start a round exactly once, relay the events to JetStream, and exit 0 on SIGTERM', async () => {
    const { client, store, names } = h;
    const started = await client.send(StartCampaign, {
      campaignId: 'proc-1',
      substratePath: substrateDir,
      constitutionPath: 'constitutions/default.yaml',
      rounds: 2,
      workersPerRound: 3,
      axes: ['learning-rate'],
      seed: 1,
      budgets: { gpuSeconds: 100, llmTokens: 0, submissionsPerRound: 1 },
      roundStart: 'manual',
    });
    expect(started.ok).toBe(true);
    const replies: CommandReply[] = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        client.send(
          StartRound,
          { campaignId: 'proc-1', round: 1 },
          i % 2 === 0 ? { commandId: 'cmd-proc-round-1' } : {},
        ),
      ),
    );
    expect(replies.filter((r) => r.ok && !r.duplicate)).toHaveLength(1);
    expect(replies.every((r) => r.ok || r.error.code === 'ROUND_ALREADY_STARTED')).toBe(true);

    expect(await store.readAll({ types: [RoundStarted.type], campaignId: 'proc-1' })).toHaveLength(1);

    // The embedded relays (one leader) published both events to the stream.
    const nc = await connect({ servers: names.url });
    try {
      const jsm = await jetstreamManager(nc);
      await eventually(async () => (await jsm.streams.info(names.stream)).state.messages === 2, 30_000);
    } finally {
      await nc.close();
    }

    for (const p of procs) p.child.kill('SIGTERM');
    const codes = await Promise.all(procs.map((p) => p.exit));
    expect(codes).toEqual([0, 0]);
  });
});
