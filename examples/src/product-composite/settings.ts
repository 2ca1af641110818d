// The composite's settings: the example service's, plus the partitions of each core service's events.
import { setting, type SettingSpec, type Settings } from '@trellis/kit';
import { DESTINATIONS, type CoreService } from '../shared/events.ts';
import { exampleSettings } from '../shared/settings.ts';

/** `review=3,product=2`: how many instances read each core service's destination, so events go to every partition. */
function partitionsSetting(): SettingSpec<Readonly<Partial<Record<CoreService, number>>>, true> {
  return {
    env: 'PRODUCT_COMPOSITE_EVENT_PARTITIONS',
    default: {},
    accepts: 'a list like review=3,product=2 (core service = instance count)',
    help: 'partitions per core service destination, one per consuming instance (trellis up --scale sets it)',
    parse: (raw) => {
      const out: Partial<Record<CoreService, number>> = {};
      for (const entry of setting.list({ help: '' }).parse(raw)) {
        const match = /^(product|recommendation|review)=(\d{1,3})$/.exec(entry);
        if (match === null || Number(match[2]) < 1) throw new Error(entry);
        out[match[1] as CoreService] = Number(match[2]);
      }
      return out;
    },
  };
}

export function compositeSettings() {
  return {
    ...exampleSettings({ name: 'product-composite', port: 7000, portEnv: 'PRODUCT_COMPOSITE_PORT' }),
    issuer: setting.url({
      flag: 'issuer',
      env: 'AUTH_ISSUER',
      default: 'http://localhost:9999',
      help: 'the auth server whose tokens are accepted (their `iss`)',
    }),
    audience: setting.string({
      flag: 'audience',
      env: 'AUTH_RESOURCE',
      default: 'product-api',
      help: 'the `aud` tokens must name',
    }),
    eventPartitions: partitionsSetting(),
  };
}

export type CompositeSettings = Settings<ReturnType<typeof compositeSettings>>;

/** The destinations the composite publishes to, in the order of a CREATE (product first, as the Spring sample). */
export const PUBLISHED = Object.keys(DESTINATIONS) as CoreService[];
