export * from './decider-spec';
export * from './infra';
export * from './anthropic-messages-loopback';
export * from './built-services';
export * from './builders/events';
export * from './builders/policies';
export * from './service-harness';
export * from './service-processes';
