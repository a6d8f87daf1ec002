export * from './domain/job';
export * from './domain/budget';
export * from './app/job-dispatcher';
export * from './app/executor-factory';
export * from './dispatch.module';
export * from './dispatch.controller';
