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

  // An evaluate job's end, whichever way it ended.
  @OnEvent([JobSucceeded, JobFailed, JobCancelled], { concurrency: 4 })
  async onJobTerminal(
    e: EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> | EventOf<typeof JobCancelled>,
  ): Promise<void> {
    await this.workflow.onJobTerminal(e);
  }
}
