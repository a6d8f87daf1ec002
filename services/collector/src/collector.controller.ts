import { Controller, Inject } from '@nestjs/common';
import {
  FrozenPathViolated,
  LeaderboardScored,
  ManifestSubmitted,
  RoundStarted,
  SubmissionAccepted,
  SubmissionRejected,
  SubmissionRequested,
  type EventEnvelope,
} from '@aevo/contracts';
import { OnEvent } from '@aevo/messaging';
import { RoundCollector } from './round-collector';

/** Transport edge: every fact that can complete a round re-checks it; a throw naks for redelivery. */
@Controller()
export class CollectorController {
  constructor(@Inject(RoundCollector) private readonly collector: RoundCollector) {}

  @OnEvent(RoundStarted)
  async onRoundStarted(e: EventEnvelope): Promise<void> {
    await this.collector.onEvent(e);
  }

  @OnEvent(ManifestSubmitted)
  async onManifest(e: EventEnvelope): Promise<void> {
    await this.collector.onEvent(e);
  }

  @OnEvent(SubmissionRequested)
  async onSubmissionRequested(e: EventEnvelope): Promise<void> {
    await this.collector.onEvent(e);
  }

  @OnEvent(SubmissionAccepted)
  async onSubmissionAccepted(e: EventEnvelope): Promise<void> {
    await this.collector.onEvent(e);
  }

  @OnEvent(LeaderboardScored)
  async onScored(e: EventEnvelope): Promise<void> {
    await this.collector.onEvent(e);
  }

  @OnEvent(SubmissionRejected)
  async onRejected(e: EventEnvelope): Promise<void> {
    await this.collector.onEvent(e);
  }

  @OnEvent(FrozenPathViolated)
  async onViolation(e: EventEnvelope): Promise<void> {
    await this.collector.onEvent(e);
  }
}
