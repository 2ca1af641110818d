// @trellis/gateway: the edge server with Spring Cloud Gateway's route model.
export { gatewayComponent, startGateway } from './main.ts';
export type { GatewayOptions, RunningGateway } from './main.ts';
export { gatewayConfig, gatewaySettings, loadConfig } from './config.ts';
export type { GatewayConfig, GatewaySettings } from './config.ts';
export { GatewayError } from './errors.ts';
export type { GatewayErrorCode } from './errors.ts';
export { readGatewayDocument } from './routing/document.ts';
export type { GatewayDocument } from './routing/document.ts';
export { parseShortcut, readRouteDefinition } from './routing/definition.ts';
export type { ComponentDefinition, RouteDefinition } from './routing/definition.ts';
export { fileRouteSource, RouteManager } from './routing/manager.ts';
export type { RouteSource } from './routing/manager.ts';
export { RouteTable } from './routing/table.ts';
export type { Route } from './routing/table.ts';
export { compilePathPattern } from './routing/path-pattern.ts';
