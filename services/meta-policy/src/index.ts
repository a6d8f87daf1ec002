export * from './config';
export * from './claude-meta-agent';
export * from './policy-reviser';
export * from './meta-policy.module';
