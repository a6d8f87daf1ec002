export * from './projection';
export * from './registry';
export * from './replay';
export * from './builtin';
export * from './sample-log';
export * from './views';
