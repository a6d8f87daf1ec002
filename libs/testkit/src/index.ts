export * from './decider-spec';
export * from './infra';
export * from './anthropic-messages-loopback';
export * from './built-services';
