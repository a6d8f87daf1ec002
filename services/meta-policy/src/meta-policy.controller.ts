import { Controller, Inject } from '@nestjs/common';
import { RoundEvidenceRecorded, type EventOf } from '@aevo/contracts';
import { OnEvent } from '@aevo/messaging';
import { MetaPolicyWorkflow } from './app/meta-policy-workflow';

/** Transport edge: each round's evidence is revised once; a throw (e.g. the previous revision not in yet) naks. */
@Controller()
export class MetaPolicyController {
  constructor(@Inject(MetaPolicyWorkflow) private readonly workflow: MetaPolicyWorkflow) {}

  @OnEvent(RoundEvidenceRecorded)
  async onEvidence(e: EventOf<typeof RoundEvidenceRecorded>): Promise<void> {
    await this.workflow.onEvidence(e);
  }
}
