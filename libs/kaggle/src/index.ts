export * from './errors';
export * from './credentials';
export * from './wire';
export * from './client';
export * from './loopback-server';
