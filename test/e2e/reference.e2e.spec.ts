import { expectAuditVerifies, expectCompletedCampaign } from './assertions';
import { E2eControlPlane } from './harness';

/**
 * A 2-round × 4-worker campaign on the reference PyTorch substrate (substrate/wonderland, size tiny) with the
 * offline heuristic workers — what `npm run demo` runs — through `aevo up` and the `aevo` binary.
 */
describe('e2e: 2 rounds on the reference substrate (tiny)', () => {
  const plane = new E2eControlPlane();
  const id = 'e2e-wonderland2';

  beforeAll(async () => {
    await plane.start({ AEVO_LOCAL_SLOTS: '2', AEVO_ORCHESTRATOR_TICK_MS: '2000', AEVO_COLLECTOR_TICK_MS: '2000' });
  }, 300_000);

  afterAll(async () => {
    const code = await plane.stop();
    expect(code).toBe(0);
  }, 120_000);

  it('runs to CampaignCompleted on real training jobs and replays to the recorded hashes', async () => {
    const start = await plane.cli([
      'campaign',
      'start',
      '--id',
      id,
      '--substrate',
      'substrate/wonderland',
      '--size',
      'tiny',
      '--rounds',
      '2',
      '--workers',
      '4',
      '--seed',
      '3',
    ]);
    expect({ code: start.code, stderr: start.stderr }).toEqual({ code: 0, stderr: '' });
    const watch = await plane.cli(['campaign', 'watch', id, '--interval', '2000', '--timeout', '900'], 960_000);
    if (watch.code !== 0)
      throw new Error(`watch exited ${watch.code}\n${watch.stdout.slice(-4000)}\n${watch.stderr}\n${plane.logTails()}`);
    expect(watch.stdout).toMatch(/completed \(rounds-exhausted\) after 2 round\(s\)/);

    await expectCompletedCampaign(plane, id, 2, 4, 2);
    // Real PyTorch jobs ran: train jobs succeeded and their checkpoints were evaluated.
    const trains = (await plane.events(id, ['JobSucceeded'])).filter((e) =>
      /-train$/.test((e.data as { jobId: string }).jobId),
    );
    expect(trains.length).toBeGreaterThanOrEqual(8);
    expect(await plane.count(id, 'CheckpointEvaluated')).toBeGreaterThanOrEqual(8);
    await expectAuditVerifies(plane, 2);
  });
});
