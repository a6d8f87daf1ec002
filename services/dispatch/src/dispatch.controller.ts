import { Controller, Inject } from '@nestjs/common';
import { CancelJob, JobCancellationRequested, JobRequested, type CommandOf, type EventOf } from '@aevo/contracts';
import { OnCommand, OnEvent } from '@aevo/messaging';
import { DispatchWorkflow, type CancelOutcome } from './app/dispatch-workflow';

/** Transport edge: a handler that throws naks the event (it is redelivered); the workflow is idempotent. */
@Controller()
export class DispatchController {
  constructor(@Inject(DispatchWorkflow) private readonly workflow: DispatchWorkflow) {}

  @OnEvent(JobRequested)
  async onJobRequested(e: EventOf<typeof JobRequested>): Promise<void> {
    await this.workflow.onJobRequested(e);
  }

  @OnEvent(JobCancellationRequested)
  async onJobCancellationRequested(e: EventOf<typeof JobCancellationRequested>): Promise<void> {
    await this.workflow.onCancellationRequested(e);
  }

  @OnCommand(CancelJob)
  async cancelJob(cmd: CommandOf<typeof CancelJob>): Promise<CancelOutcome> {
    return this.workflow.cancel(cmd.payload.jobId, cmd.payload.reason, cmd.commandId);
  }
}
