// `const db = await startPostgresServer()`: a real, throwaway PostgreSQL for the tests and the bench.
export { findPostgresBin, startPostgresServer } from './server.ts';
export type { PostgresServer, PostgresServerOptions } from './server.ts';
