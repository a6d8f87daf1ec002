import {
  Inject,
  Injectable,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import type { Executor } from '@aevo/executors';
import { EVENT_STORE, SERVICE_METRICS, type ServiceMetrics } from '@aevo/messaging';
import { DispatchController } from './dispatch.controller';
import { DispatchWorkflow } from './app/dispatch-workflow';
import { createExecutor } from './app/executor-factory';
import { registerDispatchMetrics } from './app/dispatch-metrics';
import { dispatchConfigFromEnv, dispatcherFromEnv, type DispatchConfig } from './config';

@Injectable()
class DispatchLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(DispatchWorkflow) private readonly workflow: DispatchWorkflow) {}

  /** Before the transport pulls the first JobRequested: reattach to running jobs, reconcile with the store. */
  async onApplicationBootstrap(): Promise<void> {
    await this.workflow.start();
  }

  /** Jobs keep running: the next dispatch reattaches to them. */
  async onApplicationShutdown(): Promise<void> {
    await this.workflow.stop();
  }
}

@Module({})
export class DispatchModule {
  /** `executor` defaults to the one `config` names (by default read from the environment, see config.ts). */
  static forRoot(opts: { executor?: Executor; config?: DispatchConfig } = {}): DynamicModule {
    return {
      module: DispatchModule,
      controllers: [DispatchController],
      providers: [
        {
          provide: DispatchWorkflow,
          useFactory: (store: EventStore, metrics: ServiceMetrics | undefined) => {
            const logger = new Logger('dispatch');
            const executor =
              opts.executor ??
              createExecutor((opts.config ?? dispatchConfigFromEnv()).executor, (err, context) =>
                logger.warn(`${context}: ${(err as Error)?.message ?? String(err)}`),
              );
            if (metrics) registerDispatchMetrics(metrics, executor);
            const dispatcher = opts.config ? opts.config.dispatcher : dispatcherFromEnv();
            return new DispatchWorkflow(store, executor, logger, dispatcher);
          },
          inject: [EVENT_STORE, { token: SERVICE_METRICS, optional: true }],
        },
        DispatchLifecycle,
      ],
    };
  }
}
