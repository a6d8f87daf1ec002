export * from './config';
export * from './prose-writer';
export * from './round-collector';
export * from './collector.module';
