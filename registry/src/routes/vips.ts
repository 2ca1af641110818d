// GET /vips/{vip} and /svips/{svip}: the instances whose (secure) VIP address list names the VIP, as an
// `applications` document (possibly empty, never 404), the way Ribbon-era clients look services up.
import { documented, type KitEnv } from '@trellis/kit';
import { applicationsResponse, badRequest, guarded, pathParameter, readSecurity } from '../api-docs.ts';
import { Hono } from 'hono';
import { appsHashCode, renderApplications, vipProblem } from '../eureka/index.ts';
import { RegistryError } from '../errors.ts';
import type { Application, InstanceInfo } from '../eureka/index.ts';
import { sendRendered } from '../http/negotiate.ts';
import { paths } from '../http/params.ts';
import type { Registry } from '../registry/registry.ts';
import type { RouteDeps } from './deps.ts';

export function vipsRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  for (const [path, field] of [
    ['/vips/:vip', 'vipAddress'],
    ['/svips/:vip', 'secureVipAddress'],
  ] as const) {
    const operation = guarded(readSecurity(deps.access), {
      summary: `The instances whose ${field} lists this address`,
      tags: ['eureka'],
      parameters: [pathParameter('vip')],
      responses: {
        200: applicationsResponse('the matching instances (possibly none)'),
        ...badRequest('not one VIP address'),
      },
    });
    app.on(
      'GET',
      paths(path),
      documented(operation, (c) => {
        // Matching is exact (as Eureka's), but a lookup no stored VIP address could match is refused with the reason.
        const vip = c.req.param('vip') ?? '';
        const problem = vip.includes(',')
          ? 'Invalid VIP address: a lookup names one address'
          : vipProblem(vip, 'VIP address');
        if (problem !== undefined) throw new RegistryError('invalid_request', problem);
        const applications = byVip(deps.registry, vip, field);
        const instances = applications.flatMap((a) => a.instances);
        return sendRendered(c, 200, (format) =>
          renderApplications(applications, {
            format,
            versionsDelta: deps.registry.version,
            appsHashCode: appsHashCode(instances),
          }),
        );
      }),
    );
  }
  return app;
}

/** Eureka splits the address on commas and looks for an exact entry; spaces after commas are forgiven here. */
function byVip(registry: Registry, vip: string, field: 'vipAddress' | 'secureVipAddress'): Application[] {
  const matches = (instance: InstanceInfo): boolean =>
    instance[field]?.split(',').some((entry) => entry.trim() === vip) === true;
  return registry
    .applications()
    .map((application) => ({ name: application.name, instances: application.instances.filter(matches) }))
    .filter((application) => application.instances.length > 0);
}
