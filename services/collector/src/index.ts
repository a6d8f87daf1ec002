export * from './config';
export * from './app/prose-writer';
export * from './app/collector-workflow';
export * from './collector.module';
