export * from './campaign-fold';
export * from './builders';
export * from './stats';
export * from './synthetic-campaign';
export * from './page';
export * from './report';
export * from './chart-library';
export * from './campaign-log';
