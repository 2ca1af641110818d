// The transport under the clients, for servers that talk HTTP the same way (registry peers, the gateway, bench).
export { createAgent, describeError, isConnectionError, isTimeoutError, KEEP_ALIVE_MS } from './agent.ts';
export { readText } from './body.ts';
export { SseParser } from './sse.ts';
export type { SseEvent } from './sse.ts';
export { backoffDelay, systemClock } from './timing.ts';
export type { BackoffOptions, Clock } from './timing.ts';
