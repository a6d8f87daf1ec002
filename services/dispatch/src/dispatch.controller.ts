import { Controller, Inject } from '@nestjs/common';
import { CancelJob, JobRequested, type CommandOf, type EventOf } from '@aevo/contracts';
import { OnCommand, OnEvent } from '@aevo/messaging';
import { JobDispatcher, type CancelOutcome } from './app/job-dispatcher';

/** Transport edge: a handler that throws naks the event (it is redelivered); the dispatcher is idempotent. */
@Controller()
export class DispatchController {
  constructor(@Inject(JobDispatcher) private readonly dispatcher: JobDispatcher) {}

  @OnEvent(JobRequested)
  async onJobRequested(e: EventOf<typeof JobRequested>): Promise<void> {
    await this.dispatcher.onJobRequested(e);
  }

  @OnCommand(CancelJob)
  async cancelJob(cmd: CommandOf<typeof CancelJob>): Promise<CancelOutcome> {
    return this.dispatcher.cancel(cmd.payload.jobId, cmd.payload.reason, cmd.commandId);
  }
}
