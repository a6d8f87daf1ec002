export * from './plan';
export * from './bwrap';
export * from './frozen-command';
