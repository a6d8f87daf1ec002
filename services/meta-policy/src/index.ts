export * from './config';
export * from './app/claude-meta-agent';
export * from './app/meta-policy-workflow';
export * from './meta-policy.module';
