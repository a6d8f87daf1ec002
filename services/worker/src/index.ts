// The worker's domain (the candidate decider, trace, tools and agents) lives in libs/worker-kit: this service is
// the transport, configuration and use-case shell around it, so it has no src/domain/ of its own.
export * from './config';
export * from './app/campaign-lookup';
export * from './app/candidate-ports';
export * from './app/agent-factory';
export * from './app/worker-workflow';
export * from './worker.controller';
export * from './worker.module';
