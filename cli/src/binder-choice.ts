// Which event binder `trellis up` and `trellis events` use: --binder (TRELLIS_BINDER), else the broker URL's scheme.
import { setting, SettingsError } from '@trellis/kit';

export const BINDERS = ['kafka', 'rabbit', 'embedded'] as const;
export type BinderChoice = (typeof BINDERS)[number];

/** Where each broker listens when no URL is given: its own default port on this machine. */
export const LOCAL_BROKER_URLS = {
  kafka: 'kafka://127.0.0.1:9092',
  rabbit: 'amqp://guest:guest@localhost:5672',
} as const satisfies Record<Exclude<BinderChoice, 'embedded'>, string>;

/** The binder flags every command that reaches the binder declares. */
export function binderSettings() {
  return {
    binder: setting.choice(BINDERS, {
      flag: 'binder',
      env: 'TRELLIS_BINDER',
      help: "event binder (default: the broker URL's, amqp:// rabbit, kafka:// kafka; embedded without one)",
    }),
    brokerUrl: setting.string({
      flag: 'broker-url',
      env: 'TRELLIS_BROKER_URL',
      secret: true,
      help: 'broker URL: amqp://user:password@host:5672 (RabbitMQ) or kafka://host:9092 (Kafka)',
    }),
  };
}

export interface ChosenBinder {
  readonly kind: BinderChoice;
  /** The URL to connect with; undefined for the embedded binder, and for a broker whose URL was not given. */
  readonly brokerUrl: string | undefined;
}

function kindOfUrl(url: string): Exclude<BinderChoice, 'embedded'> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'amqp' || scheme === 'amqps') return 'rabbit';
  if (scheme === 'kafka') return 'kafka';
  throw new SettingsError(
    'invalid --broker-url (TRELLIS_BROKER_URL): use amqp://, amqps:// (RabbitMQ) or kafka:// (Kafka)',
  );
}

/**
 * The binder to use: the one named, else the broker URL's, else embedded. A URL of another broker than the one named
 * is refused (it would silently start the wrong one); the embedded binder ignores any URL.
 *
 * @example
 * chooseBinder({ brokerUrl: 'kafka://127.0.0.1:9092' }); // { kind: 'kafka', brokerUrl: 'kafka://127.0.0.1:9092' }
 * chooseBinder({ binder: 'rabbit' }); // { kind: 'rabbit', brokerUrl: undefined }
 */
export function chooseBinder(o: { binder?: BinderChoice | undefined; brokerUrl?: string | undefined }): ChosenBinder {
  const url = o.brokerUrl === '' ? undefined : o.brokerUrl;
  if (o.binder === 'embedded') return { kind: 'embedded', brokerUrl: undefined };
  const fromUrl = url === undefined ? undefined : kindOfUrl(url);
  const kind = o.binder ?? fromUrl ?? 'embedded';
  if (fromUrl !== undefined && fromUrl !== kind) {
    throw new SettingsError(
      `--binder ${kind} (TRELLIS_BINDER) does not match --broker-url (TRELLIS_BROKER_URL), a ${fromUrl} URL`,
    );
  }
  return { kind, brokerUrl: url };
}
