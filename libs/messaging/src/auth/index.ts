export * from './permissions';
export * from './nats-config';
export * from './credentials';
export * from './provision';
