export * from './domain/job';
export * from './domain/budget';
export * from './app/dispatch-workflow';
export * from './app/executor-factory';
export * from './config';
export * from './dispatch.module';
export * from './dispatch.controller';
