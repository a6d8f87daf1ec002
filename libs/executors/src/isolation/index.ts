export * from './plan';
export * from './bwrap';
