// /apps/{APP}: one application's instances (GET) and registration (POST, answered 204 exactly, which is all
// eureka-js-client accepts).
import type { KitEnv } from '@trellis/kit';
import { Hono } from 'hono';
import { parseInstance, renderApplication } from '../eureka/index.ts';
import { checkVipAddresses, writerFor } from '../auth/writers.ts';
import { limitError, RegistryError } from '../errors.ts';
import { isReplication, sendRendered } from '../http/negotiate.ts';
import { appParam, paths } from '../http/params.ts';
import { admitRegistration, bodyTooLarge } from '../registry/limits.ts';
import type { RouteDeps } from './deps.ts';

export function applicationRoutes(deps: RouteDeps): Hono<KitEnv> {
  const { registry, limits } = deps;
  const app = new Hono<KitEnv>();

  app.on('GET', paths('/apps/:app'), (c) => {
    const application = registry.application(appParam(c));
    if (application === undefined) throw new RegistryError('unknown_application', 'Unknown application');
    return sendRendered(c, 200, (format) => renderApplication(application, { format }));
  });

  app.on('POST', paths('/apps/:app'), async (c) => {
    // The declared length first, so an oversized body is refused unread; then the body itself (chunked ones).
    const declared = Number(c.req.header('content-length'));
    if (declared > limits.maxInstanceBytes) throw limitError(bodyTooLarge(declared, limits));
    const body = await c.req.text();
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
  });

  return app;
}
