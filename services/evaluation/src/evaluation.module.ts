import { Module, type DynamicModule } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { CommandClient, EVENT_STORE } from '@aevo/messaging';
import { EvaluationController } from './evaluation.controller';
import { EvaluationWorkflow } from './app/evaluation-workflow';
import { evaluationConfigFromEnv, type EvaluationConfig } from './config';
import { CommandSandboxVerifier } from './app/command-sandbox-verifier';
import { SANDBOX_VERIFIER, type SandboxVerifier } from './app/sandbox-verifier';

@Module({})
export class EvaluationModule {
  /** `verifier` defaults to the substrate service's VerifySandbox command; `config` to the environment. */
  static forRoot(opts: { config?: EvaluationConfig; verifier?: SandboxVerifier } = {}): DynamicModule {
    return {
      module: EvaluationModule,
      controllers: [EvaluationController],
      providers: [
        {
          provide: SANDBOX_VERIFIER,
          useFactory: (client: CommandClient) => opts.verifier ?? new CommandSandboxVerifier(client),
          inject: [CommandClient],
        },
        {
          provide: EvaluationWorkflow,
          useFactory: (store: EventStore, verifier: SandboxVerifier) =>
            new EvaluationWorkflow(store, verifier, opts.config ?? evaluationConfigFromEnv()),
          inject: [EVENT_STORE, SANDBOX_VERIFIER],
        },
      ],
    };
  }
}
