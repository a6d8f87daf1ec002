export * from './app/settings';
export * from './app/campaign-lookup';
export * from './app/candidate-runner';
export * from './worker.controller';
export * from './worker.module';
