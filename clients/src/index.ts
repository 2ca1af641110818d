export * from './kit/index.ts';
export * from './tls/index.ts';
