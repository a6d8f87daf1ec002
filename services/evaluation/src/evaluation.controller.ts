import { Controller, Inject } from '@nestjs/common';
import { EvaluationRequested, JobCancelled, JobFailed, JobSucceeded, type EventOf } from '@aevo/contracts';
import { OnEvent } from '@aevo/messaging';
import { EvaluationWorkflow } from './app/evaluation-workflow';

/** Transport edge: each event is handed to the workflow; a throw naks the message for redelivery. */
@Controller()
export class EvaluationController {
  constructor(@Inject(EvaluationWorkflow) private readonly workflow: EvaluationWorkflow) {}

  @OnEvent(EvaluationRequested, { concurrency: 4 })
  async onEvaluationRequested(e: EventOf<typeof EvaluationRequested>): Promise<void> {
    await this.workflow.onEvaluationRequested(e);
  }

  @OnEvent(JobSucceeded, { concurrency: 4 })
  async onJobSucceeded(e: EventOf<typeof JobSucceeded>): Promise<void> {
    await this.workflow.onJobTerminal(e);
  }

  @OnEvent(JobFailed, { concurrency: 4 })
  async onJobFailed(e: EventOf<typeof JobFailed>): Promise<void> {
    await this.workflow.onJobTerminal(e);
  }

  @OnEvent(JobCancelled, { concurrency: 4 })
  async onJobCancelled(e: EventOf<typeof JobCancelled>): Promise<void> {
    await this.workflow.onJobTerminal(e);
  }
}
