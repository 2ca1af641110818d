// `trellis events dlq …`: a consumer group's dead letters, on RabbitMQ or in the embedded binder.
import type { DeadLetter } from '@trellis/clients/events';
import { loadSettings, renderSettingsHelp, setting, SettingsError, type SettingSpecs } from '@trellis/kit';

type Env = Readonly<Record<string, string | undefined>>;

export interface EventsIo {
  readonly stdout: { write(text: string): unknown };
  readonly readStdin: () => Promise<string>;
}

const flags = {
  dataDir: setting.string({ flag: 'data-dir', env: 'TRELLIS_DATA_DIR', default: './data', help: 'data directory' }),
  brokerUrl: setting.string({
    flag: 'broker-url',
    env: 'TRELLIS_BROKER_URL',
    secret: true,
    help: 'RabbitMQ URL (amqp://user:password@host:5672); the embedded SQLite binder in the data dir when unset',
  }),
  limit: setting.integer({ flag: 'limit', default: 100, min: 1, max: 100_000, help: 'most dead letters to list' }),
  id: setting.list({ flag: 'id', help: 'replay only these dead letters (comma-separated ids)' }),
  timeoutMs: setting.integer({
    flag: 'timeout-ms',
    default: 10_000,
    min: 100,
    max: 600_000,
    help: 'how long to wait for the broker',
  }),
} satisfies SettingSpecs;

export const EVENTS_HELP = `Usage: trellis events dlq <list|show|replay|purge> <destination> <group> [id] [flags]

Acts on a consumer group's dead letters (<destination>.<group>.dlq), on RabbitMQ or in the embedded binder:
  list     the oldest dead letters with their failure reason (they stay in the queue)
  show     one dead letter with its headers and payload
  replay   send dead letters back to the queue they failed in (all, or --id a,b); only that group gets them
  purge    delete every dead letter of the group

${renderSettingsHelp(flags)}`;

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** A listing line per letter: the payload is shown by `show`, not here, so a list never floods the terminal. */
function summary(letter: DeadLetter): Record<string, unknown> {
  return {
    id: letter.id,
    queue: letter.queue,
    reason: letter.reason ?? null,
    bytes: Buffer.byteLength(letter.payload),
  };
}

/** Splits `dlq <action> <destination> <group> [id] [--flags]`. */
function words(argv: readonly string[]): { positional: string[]; rest: string[] } {
  const positional: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const w = argv[i] ?? '';
    if (w.startsWith('-')) break;
    positional.push(w);
  }
  return { positional, rest: argv.slice(i) };
}

/**
 * `trellis events dlq list|show|replay|purge <destination> <group>`: dead letters you can act on, for both binders
 * (Spring has no standard replay).
 */
export async function eventsCommand(argv: readonly string[], env: Env, io: EventsIo): Promise<void> {
  const { positional, rest } = words(argv);
  const [area, action, destination, group, id] = positional;
  if (area !== 'dlq')
    throw new SettingsError(`unknown events command ${JSON.stringify(area ?? '')} (see trellis events --help)`);
  if (destination === undefined || group === undefined) {
    throw new SettingsError('missing <destination> <group> (see trellis events --help)');
  }
  const s = loadSettings(flags, { argv: rest, env });
  // Loaded only by this command: the binder brings the broker client.
  const { createEventBinder } = await import('@trellis/clients/events');
  const binder = await createEventBinder({
    brokerUrl: s.brokerUrl,
    dataDir: s.dataDir,
    publishTimeoutMs: s.timeoutMs,
  });
  try {
    const dlq = binder.deadLetters(destination, group);
    switch (action) {
      case 'list':
        io.stdout.write(json((await dlq.list({ limit: s.limit })).map(summary)));
        return;
      case 'show':
        if (id === undefined) throw new SettingsError('missing dead letter id (see trellis events dlq list)');
        io.stdout.write(json(await dlq.show(id)));
        return;
      case 'replay': {
        const ids = s.id ?? (id === undefined ? undefined : [id]);
        const count = await dlq.replay(ids === undefined ? {} : { ids });
        io.stdout.write(`replayed ${count} dead letter${count === 1 ? '' : 's'} from ${dlq.name}\n`);
        return;
      }
      case 'purge': {
        const count = await dlq.purge();
        io.stdout.write(`purged ${count} dead letter${count === 1 ? '' : 's'} from ${dlq.name}\n`);
        return;
      }
      case undefined:
      default:
        throw new SettingsError(`unknown dlq action ${JSON.stringify(action ?? '')} (see trellis events --help)`);
    }
  } finally {
    await binder.close();
  }
}
