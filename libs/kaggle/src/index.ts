export * from './errors';
export * from './credentials';
export * from './wire';
export * from './retry';
export * from './description';
export * from './refusal';
export * from './client';
export * from './loopback-server';
