export * from './domain/evaluation';
export * from './app/evaluation-workflow';
export * from './app/sandbox-verifier';
export * from './app/command-sandbox-verifier';
export * from './config';
export * from './evaluation.module';
