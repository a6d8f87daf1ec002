export * from './glob';
export * from './placeholders';
export * from './tree';
export * from './load';
export * from './recipe-merge';
export * from './memo';
export * from './fixture';
