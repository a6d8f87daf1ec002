export * from './stats';
export * from './axis-paths';
export * from './collect';
export * from './round-ledger';
export * from './prose';
export * from './replay';
export * from './fixtures';
export * from './projection';
