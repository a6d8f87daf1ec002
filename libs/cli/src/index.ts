export * from './program';
export * from './stack';
export * from './campaign-view';
export * from './campaign-commands';
export * from './up';
