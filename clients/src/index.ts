export * from './kit/index.ts';
export * from './tls/index.ts';
export * from './discovery/index.ts';
export * from './security/index.ts';
export * from './config/index.ts';
export * from './resilience/index.ts';
export * from './events/index.ts';
