import { Controller, Inject } from '@nestjs/common';
import { RoundEvidenceRecorded, type EventOf } from '@aevo/contracts';
import { OnEvent } from '@aevo/messaging';
import { PolicyReviser } from './policy-reviser';

/** Transport edge: each round's evidence is revised once; a throw (e.g. the previous revision not in yet) naks. */
@Controller()
export class MetaPolicyController {
  constructor(@Inject(PolicyReviser) private readonly reviser: PolicyReviser) {}

  @OnEvent(RoundEvidenceRecorded)
  async onEvidence(e: EventOf<typeof RoundEvidenceRecorded>): Promise<void> {
    await this.reviser.onEvidence(e);
  }
}
