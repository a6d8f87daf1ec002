import { DynamicModule, Module } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { ApiController } from './http/api.controller';
import { DashboardService, EVENT_STORE } from './read-model/dashboard.service';

@Module({})
export class ApiModule {
  /** The store is created by the caller (main.ts or a test) so that its lifecycle stays explicit. */
  static forStore(store: EventStore): DynamicModule {
    return {
      module: ApiModule,
      controllers: [ApiController],
      providers: [{ provide: EVENT_STORE, useValue: store }, DashboardService],
    };
  }
}
