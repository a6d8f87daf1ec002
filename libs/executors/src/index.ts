export * from './types';
export * from './delivery';
export * from './log-file';
export * from './local/slots';
export * from './local/proc';
export * from './local/records';
export * from './local/local-executor';
