import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE } from '@aevo/messaging';
import {
  CandidateRunner,
  EventPorts,
  LocalPorts,
  defaultAgentFactory,
  type AgentFactory,
  type CandidatePorts,
} from './app/candidate-runner';
import { workerSettingsFromEnv, type WorkerSettings } from './app/settings';
import { WorkerController } from './worker.controller';

class RunnerLifecycle implements OnApplicationShutdown {
  constructor(@Inject(CandidateRunner) private readonly runner: CandidateRunner) {}
  async onApplicationShutdown(): Promise<void> {
    await this.runner.close();
  }
}

@Module({})
export class WorkerModule {
  /** `settings` default to the environment; `agents` to heuristic/Claude by the campaign's workerKind. */
  static forRoot(
    opts: {
      settings?: WorkerSettings;
      agents?: AgentFactory;
      ports?: (store: EventStore, s: WorkerSettings) => CandidatePorts;
    } = {},
  ): DynamicModule {
    const settings = opts.settings ?? workerSettingsFromEnv();
    return {
      module: WorkerModule,
      controllers: [WorkerController],
      providers: [
        {
          provide: CandidateRunner,
          useFactory: (store: EventStore) => {
            const ports = opts.ports
              ? opts.ports(store, settings)
              : settings.jobs === 'local'
                ? new LocalPorts(settings)
                : new EventPorts(store);
            return new CandidateRunner(store, settings, ports, opts.agents ?? defaultAgentFactory(settings));
          },
          inject: [EVENT_STORE],
        },
        RunnerLifecycle,
      ],
    };
  }
}
