// /apps/{APP}: one application's instances (GET) and registration (POST, answered 204 exactly, which is all
// eureka-js-client accepts).
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import { Hono } from 'hono';
import {
  anyCase,
  applicationResponse,
  badRequest,
  guarded,
  notFound,
  pathParameter,
  readSecurity,
  registrationBody,
  tooLarge,
  unsupportedBody,
  writeSecurity,
} from '../api-docs.ts';
import { parseInstance, renderApplication } from '../eureka/index.ts';
import { checkVipAddresses, writerFor } from '../auth/writers.ts';
import { limitError, RegistryError } from '../errors.ts';
import { isReplication, sendRendered } from '../http/negotiate.ts';
import { appParam, paths } from '../http/params.ts';
import { admitRegistration, bodyTooLarge } from '../registry/limits.ts';
import type { RouteDeps } from './deps.ts';
import { utf8Body } from '../http/body.ts';

export function applicationRoutes(deps: RouteDeps): Hono<KitEnv> {
  const { registry, limits } = deps;
  const app = new Hono<KitEnv>();

  const appPath = [pathParameter('app')];
  app.on(
    'GET',
    paths('/apps/:app'),
    documented(
      guarded(readSecurity(deps.access), {
        summary: "One application's instances",
        description: 'GET /apps/delta is the delta, not an application named "delta" (as in Eureka).',
        tags: ['eureka'],
        parameters: appPath,
        responses: {
          200: applicationResponse('the application'),
          ...badRequest('not an application name'),
          ...notFound('no instance of this application'),
        },
      }),
      (c) => {
        const application = registry.application(appParam(c));
        if (application === undefined) throw new RegistryError('unknown_application', 'Unknown application');
        return sendRendered(c, 200, (format) => renderApplication(application, { format }));
      },
    ),
  );

  app.on(
    'POST',
    paths('/apps/:app'),
    documented(registerOperation(deps), async (c) => {
      // The declared length first, so an oversized body is refused unread; then the body itself (chunked ones).
      const declared = Number(c.req.header('content-length'));
      if (declared > limits.maxInstanceBytes) throw limitError(bodyTooLarge(declared, limits));
      const body = await utf8Body(c);
      const bytes = Buffer.byteLength(body, 'utf8');
      if (bytes > limits.maxInstanceBytes) throw limitError(bodyTooLarge(bytes, limits));
      const parsed = parseInstance(body, c.req.header('content-type'), appParam(c), { now: registry.now() });
      if (!parsed.ok) {
        c.var.log.info({ field: parsed.error.field, reason: parsed.error.message }, 'registration refused');
        throw new RegistryError('invalid_request', parsed.error.message);
      }
      checkVipAddresses(writerFor(c.req.raw), [parsed.value.vipAddress, parsed.value.secureVipAddress]);
      const admitted = admitRegistration(registry, parsed.value, limits);
      if (!admitted.ok) {
        c.var.log.info({ app: parsed.value.app, reason: admitted.violation.message }, 'registration refused');
        throw limitError(admitted.violation);
      }
      const replicated = isReplication(c);
      const result = registry.register(admitted.value, { replicated });
      const { app: name, instanceId, status } = result.instance;
      c.var.log.info({ app: name, id: instanceId, status, action: result.action, replicated }, 'instance registered');
      return c.body(null, 204);
    }),
  );

  return app;
}

/**
 * The registration's document; with `fixedApp`, that of a path naming its application itself (POST /apps/delta
 * registers DELTA, while GET /apps/delta is the delta).
 */
export function registerOperation(deps: Pick<RouteDeps, 'access' | 'limits'>, fixedApp?: string): OpenApiOperation {
  const app = fixedApp === undefined ? '$request.path.app' : fixedApp;
  const appSchema = fixedApp === undefined ? undefined : { type: 'string' as const, pattern: `^${anyCase(fixedApp)}$` };
  return guarded(writeSecurity(deps.access), {
    summary: fixedApp === undefined ? 'Register (or re-register) an instance' : `Register an instance of ${fixedApp}`,
    description:
      'Eureka\'s registration: `{"instance": {…}}` or `<instance>…</instance>`. Answered 204 exactly, which is all eureka-js-client accepts.',
    tags: ['eureka'],
    parameters: fixedApp === undefined ? [pathParameter('app')] : [],
    requestBody: registrationBody(deps.limits, appSchema),
    responses: {
      204: {
        description: 'registered',
        links: {
          heartbeat: {
            operationRef: '#/paths/~1eureka~1apps~1{app}~1{id}/put',
            parameters: { app, id: '$request.body#/instance/instanceId' },
          },
          read: {
            operationRef: '#/paths/~1eureka~1apps~1{app}~1{id}/get',
            parameters: { app, id: '$request.body#/instance/instanceId' },
          },
        },
      },
      ...badRequest(
        "a registration Eureka refuses (missing hostName, ipAddr, app or dataCenterInfo name, app not the path's, a name or text the registry does not take, a lastDirtyTimestamp from the future)",
      ),
      409: {
        description: 'the instance id is registered under another application',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
      ...tooLarge('a body or metadata over the limits'),
      ...unsupportedBody,
      429: {
        description: 'the registry or the application holds as many instances as allowed',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
    },
  });
}
