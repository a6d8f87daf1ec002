import { DynamicModule, Module } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { ApiController } from './api.controller';
import type { ApiConfig } from './config';
import { API_CONFIG, DashboardService, EVENT_STORE } from './read-model/dashboard.service';

@Module({})
export class ApiModule {
  /** The store is created by the caller (startApi or a test) so that its lifecycle stays explicit. */
  static forStore(store: EventStore, config: Pick<ApiConfig, 'secretsEnv'>): DynamicModule {
    return {
      module: ApiModule,
      controllers: [ApiController],
      providers: [
        { provide: EVENT_STORE, useValue: store },
        { provide: API_CONFIG, useValue: config },
        DashboardService,
      ],
    };
  }
}
