import Anthropic from '@anthropic-ai/sdk';
import { Logger, Module, type DynamicModule } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE } from '@aevo/messaging';
import { ClaudeMetaAgent, type MetaAgent } from './app/claude-meta-agent';
import { metaPolicySettingsFromEnv, type MetaPolicySettings } from './config';
import { MetaPolicyController } from './meta-policy.controller';
import { MetaPolicyWorkflow } from './app/meta-policy-workflow';

@Module({})
export class MetaPolicyModule {
  /** `settings` and `agent` override the environment (tests point a real SDK client at a loopback server). */
  static forRoot(opts: { settings?: MetaPolicySettings; agent?: MetaAgent | null } = {}): DynamicModule {
    const settings = opts.settings ?? metaPolicySettingsFromEnv();
    const logger = new Logger('meta-policy');
    let agent: MetaAgent | null = opts.agent ?? null;
    if (opts.agent === undefined && settings.claude)
      agent = new ClaudeMetaAgent(
        new Anthropic({ apiKey: settings.claude.apiKey, baseURL: settings.claude.baseURL }),
        settings.claude.model,
        settings.claude.maxTokens,
      );
    return {
      module: MetaPolicyModule,
      controllers: [MetaPolicyController],
      providers: [
        {
          provide: MetaPolicyWorkflow,
          useFactory: (store: EventStore) =>
            new MetaPolicyWorkflow(store, {
              constitutionsRoots: settings.constitutionsRoots,
              agent,
              log: (level, m) => logger[level](m),
            }),
          inject: [EVENT_STORE],
        },
      ],
    };
  }
}
