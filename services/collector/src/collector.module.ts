import Anthropic from '@anthropic-ai/sdk';
import {
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE } from '@aevo/messaging';
import { CollectorController } from './collector.controller';
import { collectorSettingsFromEnv, type CollectorSettings } from './config';
import { ClaudeProseWriter, type ProseWriter } from './app/prose-writer';
import { CollectorWorkflow } from './app/collector-workflow';

const SETTINGS = 'AEVO_COLLECTOR_SETTINGS';

/** Each replica checks open rounds on a timer: passed deadlines, and readiness a lost message would miss. */
class DeadlineTicker implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly logger = new Logger('collector');

  constructor(
    @Inject(CollectorWorkflow) private readonly workflow: CollectorWorkflow,
    @Inject(SETTINGS) private readonly settings: CollectorSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.workflow
        .tick()
        .catch((err) => this.logger.warn(`tick failed: ${(err as Error).message}`))
        .finally(() => (this.running = null));
    }, this.settings.tickMs);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}

@Module({})
export class CollectorModule {
  /** `settings` and `prose` override the environment (tests inject a client pointed at a loopback server). */
  static forRoot(opts: { settings?: CollectorSettings; prose?: ProseWriter | null } = {}): DynamicModule {
    const settings = opts.settings ?? collectorSettingsFromEnv();
    const logger = new Logger('collector');
    let prose: ProseWriter | null = opts.prose ?? null;
    if (opts.prose === undefined && settings.prose.kind === 'claude')
      prose = new ClaudeProseWriter(
        new Anthropic({ apiKey: settings.prose.apiKey, baseURL: settings.prose.baseURL }),
        settings.prose.model,
        settings.prose.maxTokens,
      );
    return {
      module: CollectorModule,
      controllers: [CollectorController],
      providers: [
        { provide: SETTINGS, useValue: settings },
        {
          provide: CollectorWorkflow,
          useFactory: (store: EventStore) =>
            new CollectorWorkflow(store, {
              deadlineSeconds: settings.deadlineSeconds,
              claimSeconds: settings.claimSeconds,
              prose,
              log: (level, m) => logger[level](m),
            }),
          inject: [EVENT_STORE],
        },
        DeadlineTicker,
      ],
    };
  }
}
