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
import { JobDispatcher } from './app/job-dispatcher';
import { executorFromEnv } from './app/executor-factory';
import { registerDispatchMetrics } from './app/dispatch-metrics';

@Injectable()
class DispatchLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(JobDispatcher) private readonly dispatcher: JobDispatcher) {}

  /** Before the transport pulls the first JobRequested: reattach to running jobs, reconcile with the store. */
  async onApplicationBootstrap(): Promise<void> {
    await this.dispatcher.start();
  }

  /** Jobs keep running: the next dispatch reattaches to them. */
  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher.stop();
  }
}

@Module({})
export class DispatchModule {
  /** `executor` defaults to AEVO_EXECUTOR and its settings from the environment (see executorFromEnv). */
  static forRoot(opts: { executor?: Executor; env?: NodeJS.ProcessEnv } = {}): DynamicModule {
    return {
      module: DispatchModule,
      controllers: [DispatchController],
      providers: [
        {
          provide: JobDispatcher,
          useFactory: (store: EventStore, metrics: ServiceMetrics | undefined) => {
            const logger = new Logger('dispatch');
            const executor =
              opts.executor ??
              executorFromEnv(opts.env ?? process.env, (err, context) =>
                logger.warn(`${context}: ${(err as Error)?.message ?? String(err)}`),
              );
            if (metrics) registerDispatchMetrics(metrics, executor);
            return new JobDispatcher(store, executor, logger);
          },
          inject: [EVENT_STORE, { token: SERVICE_METRICS, optional: true }],
        },
        DispatchLifecycle,
      ],
    };
  }
}
