import { Module, type DynamicModule } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { CommandClient, EVENT_STORE } from '@aevo/messaging';
import { EvaluationController } from './evaluation.controller';
import { EvaluationWorkflow, type EvaluationConfig } from './app/evaluation-workflow';
import { CommandSandboxVerifier } from './app/command-sandbox-verifier';
import { SANDBOX_VERIFIER, type SandboxVerifier } from './app/sandbox-verifier';

export function evaluationConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EvaluationConfig {
  const timeout = Number(env.AEVO_EVAL_TIMEOUT_SECONDS ?? 3600);
  if (!Number.isInteger(timeout) || timeout <= 0)
    throw new Error(`AEVO_EVAL_TIMEOUT_SECONDS: expected a positive integer, got ${env.AEVO_EVAL_TIMEOUT_SECONDS}`);
  return {
    aevoHome: env.AEVO_HOME ?? '.aevo',
    split: env.AEVO_EVAL_SPLIT ?? 'dev',
    defaultTimeoutSeconds: timeout,
    defaultSize: env.AEVO_SIZE ?? 'tiny',
  };
}

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
