import { Controller } from '@nestjs/common';
import { EventPattern, Payload, Ctx } from '@nestjs/microservices';
import { CancelJob, DomainError, type CommandOf } from '@aevo/contracts';
import { CommandClient, OnCommand, ServerFeatureError } from '../src';
import { Recorder, RoundClosedHandlers, useJetStreamServerFixture } from './jetstream-server-fixture';

jest.setTimeout(120_000);

@Controller()
class CancelJobHandler {
  @OnCommand(CancelJob)
  cancel(@Payload() cmd: CommandOf<typeof CancelJob>) {
    if (cmd.payload.reason === 'domain')
      throw new DomainError('JOB_NOT_FOUND', `no job ${cmd.payload.jobId}`, [
        { path: 'payload.jobId', message: 'unknown job' },
      ]);
    if (cmd.payload.reason === 'crash') throw new TypeError('handler bug');
    return { cancelled: cmd.payload.jobId };
  }
}

@Controller()
class UnknownEventHandler {
  @EventPattern('NoSuchEventHappened')
  on(@Payload() _e: unknown, @Ctx() _ctx: unknown) {
    return undefined;
  }
}

describe('JetStreamServer answering commands and checking its start, against nats-server and PostgreSQL', () => {
  const fx = useJetStreamServerFixture();

  it('answers commands in the queue group with structured errors and stays up', async () => {
    const rec = new Recorder();
    const first = await fx.startApp('dispatch', rec, 'a', [CancelJobHandler]);
    await fx.startApp('dispatch', rec, 'b', [CancelJobHandler]);
    const statuses: string[] = [];
    first.server.status.subscribe((s) => statuses.push(String(s)));
    expect(statuses).toEqual(['connected']);
    const client = await CommandClient.connect({ natsUrl: fx.names.url, subjectPrefix: fx.names.subjectPrefix });
    try {
      const ok = await client.send(
        CancelJob,
        { campaignId: 'c1', jobId: 'j1', reason: 'no longer needed' },
        { commandId: 'cmd-test-0001' },
      );
      expect(ok).toEqual({ ok: true, commandId: 'cmd-test-0001', duplicate: false, result: { cancelled: 'j1' } });

      const bad = await client.send(
        CancelJob,
        { campaignId: 'a b', jobId: 7, extra: true },
        { commandId: 'cmd-test-0002' },
      );
      expect(bad.ok).toBe(false);
      if (!bad.ok) {
        expect(bad.commandId).toBe('cmd-test-0002');
        expect(bad.error.code).toBe('INVALID_COMMAND');
        expect(bad.error.issues.map((i) => i.path).sort()).toEqual([
          'payload',
          'payload.campaignId',
          'payload.jobId',
          'payload.reason',
        ]);
      }

      const notJson = await client.sendRaw('CancelJob', '{{{');
      expect(!notJson.ok && notJson.error.code).toBe('INVALID_JSON');

      const domain = await client.send(CancelJob, { campaignId: 'c1', jobId: 'j9', reason: 'domain' });
      expect(!domain.ok && domain.error).toEqual({
        code: 'JOB_NOT_FOUND',
        message: 'no job j9',
        issues: [{ path: 'payload.jobId', message: 'unknown job' }],
      });

      const crash = await client.send(CancelJob, { campaignId: 'c1', jobId: 'j9', reason: 'crash' });
      expect(!crash.ok && crash.error).toEqual({ code: 'INTERNAL', message: 'handler bug', issues: [] });

      const again = await client.send(CancelJob, { campaignId: 'c1', jobId: 'j2', reason: 'still up' });
      expect(again.ok).toBe(true);

      const nobody = await client.send('StartRound', { campaignId: 'c1', round: 1 }, { timeoutMs: 5000 });
      expect(!nobody.ok && nobody.error.code).toBe('NO_RESPONDERS');
    } finally {
      await client.close();
    }
  });

  it(
    'refuses to start on a server lacking a required feature, ' + 'or with handlers the contracts do not know',
    async () => {
      const rec = new Recorder();
      const built = await fx.startApp(
        'worker',
        rec,
        'a',
        [RoundClosedHandlers],
        { requiredFeatures: ['filter_subjects'] },
        false,
      );
      const refused = await built.app.listen().catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ServerFeatureError);
      expect(String((refused as Error).message)).toMatch(
        /nats-server 2\.9\.\d+ cannot run this service: filter_subjects needs nats-server >= 2\.10\.0/,
      );

      const unknown = await fx.startApp('worker', rec, 'a', [UnknownEventHandler], {}, false);
      await expect(unknown.app.listen()).rejects.toThrow(/NoSuchEventHappened.*not an event type/);

      const wrongOwner = await fx.startApp('worker', rec, 'a', [CancelJobHandler], {}, false);
      await expect(wrongOwner.app.listen()).rejects.toThrow(/command CancelJob belongs to dispatch, not worker/);
    },
  );
});
