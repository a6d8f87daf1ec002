import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE } from '@aevo/messaging';
import { defaultAgentFactory, type AgentFactory } from './app/agent-factory';
import { EventPorts, LocalPorts, type CandidatePorts } from './app/candidate-ports';
import { WorkerWorkflow } from './app/worker-workflow';
import { workerSettingsFromEnv, type WorkerSettings } from './config';
import { WorkerController } from './worker.controller';

class WorkflowLifecycle implements OnApplicationShutdown {
  constructor(@Inject(WorkerWorkflow) private readonly workflow: WorkerWorkflow) {}
  async onApplicationShutdown(): Promise<void> {
    await this.workflow.close();
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
          provide: WorkerWorkflow,
          useFactory: (store: EventStore) => {
            const ports = opts.ports
              ? opts.ports(store, settings)
              : settings.jobs === 'local'
                ? new LocalPorts(settings)
                : new EventPorts(store);
            return new WorkerWorkflow(store, settings, ports, opts.agents ?? defaultAgentFactory(settings));
          },
          inject: [EVENT_STORE],
        },
        WorkflowLifecycle,
      ],
    };
  }
}
