// `trellis events …`: what Kafka's tools ask a broker (topics, describe, a tail of messages) and a consumer group's
// dead letters, on Kafka, RabbitMQ or the embedded binder alike.
import type {
  DeadLetter,
  EventBinder,
  EventInspector,
  InspectHints,
  InspectQuestion,
  TailedMessage,
} from '@trellis/clients/events';
import {
  loadSettings,
  renderSettingsHelp,
  setting,
  SettingsError,
  type Settings,
  type SettingSpecs,
} from '@trellis/kit';
import { binderSettings, chooseBinder, LOCAL_BROKER_URLS } from './binder-choice.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface EventsIo {
  readonly stdout: { write(text: string): unknown };
  /** Where what a binder cannot show is said, apart from the answer on stdout. */
  readonly stderr?: { write(text: string): unknown };
  readonly readStdin: () => Promise<string>;
}

/** How long a command waits for the broker before giving up. */
const CONNECT_TIMEOUT_MS = 10_000;

const binderFlags = {
  dataDir: setting.string({ flag: 'data-dir', env: 'TRELLIS_DATA_DIR', default: './data', help: 'data directory' }),
  ...binderSettings(),
} satisfies SettingSpecs;

const hintFlags = {
  destination: setting.list({
    flag: 'destination',
    help: "destinations to look for where the broker cannot list them (RabbitMQ), beside the landscape's",
  }),
  group: setting.list({
    flag: 'group',
    help: "consumer groups to look for where the broker cannot list them (RabbitMQ), beside the landscape's",
  }),
} satisfies SettingSpecs;

const tailFlags = {
  fromBeginning: setting.boolean({
    flag: 'from-beginning',
    default: false,
    help: 'print every message the binder keeps first (Kafka, embedded; RabbitMQ keeps none once consumed)',
  }),
  partition: setting.integer({ flag: 'partition', min: 0, max: 9999, help: "print only this partition's messages" }),
  group: setting.string({
    flag: 'group',
    help: 'print first the messages this consumer group has not consumed yet (left for it)',
  }),
  timeoutMs: setting.integer({
    flag: 'timeout-ms',
    min: 1,
    max: 86_400_000,
    help: 'stop once no message came for this long (default: run until Ctrl-C)',
  }),
  json: setting.boolean({
    flag: 'json',
    default: false,
    help: 'print each message as a JSON line with its partition, offset, timestamp and headers, not the payload alone',
  }),
} satisfies SettingSpecs;

const dlqFlags = {
  limit: setting.integer({ flag: 'limit', default: 100, min: 1, max: 100_000, help: 'most dead letters to list' }),
  id: setting.list({ flag: 'id', help: 'replay only these dead letters (comma-separated ids)' }),
  timeoutMs: setting.integer({
    flag: 'timeout-ms',
    default: CONNECT_TIMEOUT_MS,
    min: 100,
    max: 600_000,
    help: 'how long to wait for the broker',
  }),
} satisfies SettingSpecs;

/** Every flag of `trellis events`, for completion. */
export const EVENTS_FLAGS: readonly SettingSpecs[] = [binderFlags, hintFlags, tailFlags, dlqFlags];

export const EVENTS_HELP = `Usage: trellis events <command> [flags]

Asks the binder what Kafka's tools ask a broker, on Kafka, RabbitMQ or the embedded binder:
  topics                    the destinations and their partitions (kafka-topics --list)
  describe <destination>    its partitions, and each consumer group's lag per partition and dead letters
                            (kafka-topics --describe, kafka-consumer-groups --describe)
  tail <destination>        print its messages as they come (kafka-console-consumer)
  dlq <list|show|replay|purge> <destination> <group> [id]
                            a consumer group's dead letters:
                              list     the oldest ones with their failure reason (they stay)
                              show     one with its headers and payload
                              replay   send them back to the queue they failed in (all, or --id a,b); only
                                       that group gets them
                              purge    delete every one

RabbitMQ cannot list its exchanges and queues over AMQP: topics and describe look for the landscape's
destinations and groups and those named with --destination and --group. It keeps no consumed message: tail
shows what is published from now on (and with --group what still waits for that group), never --from-beginning.

Every command:
${renderSettingsHelp(binderFlags)}

topics, describe:
${renderSettingsHelp(hintFlags)}

tail:
${renderSettingsHelp(tailFlags)}

dlq:
${renderSettingsHelp(dlqFlags)}`;

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

/** Splits `<command> <positional…> [--flags]`. */
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
 * Opens the binder the flags choose (a broker's client loads only here), runs the work and closes it; a broker named
 * without a URL is the one on this machine at its default port.
 */
async function withBinder(
  s: Settings<typeof binderFlags>,
  timeoutMs: number,
  work: (binder: EventBinder) => Promise<void>,
): Promise<void> {
  const chosen = chooseBinder(s);
  const brokerUrl = chosen.kind === 'embedded' ? undefined : (chosen.brokerUrl ?? LOCAL_BROKER_URLS[chosen.kind]);
  const { createEventBinder } = await import('@trellis/clients/events');
  const binder = await createEventBinder({ brokerUrl, dataDir: s.dataDir, publishTimeoutMs: timeoutMs });
  try {
    await work(binder);
  } finally {
    await binder.close();
  }
}

function inspectorOf(binder: EventBinder): EventInspector {
  if (binder.inspect === undefined) throw new SettingsError(`the ${binder.kind} binder cannot be inspected`);
  return binder.inspect;
}

/** Says aside, on stderr, what the binder cannot show in this answer. */
function noteLimit(inspector: EventInspector, question: InspectQuestion, io: EventsIo): void {
  const limit = inspector.limits[question];
  if (limit !== undefined) io.stderr?.write(`note: ${limit}\n`);
}

/**
 * The names to look for where the broker cannot list them: the landscape's destinations and groups (loaded only
 * for such a broker), and those named on the command line.
 */
async function hintsFor(binder: EventBinder, named: { destination?: readonly string[]; group?: readonly string[] }) {
  const hints: { destinations: string[]; groups: string[] } = {
    destinations: [...(named.destination ?? [])],
    groups: [...(named.group ?? [])],
  };
  if (binder.kind === 'rabbit') {
    const { DESTINATIONS } = await import('@trellis/examples');
    for (const { destination, group } of Object.values(DESTINATIONS)) {
      hints.destinations.push(destination);
      hints.groups.push(group);
    }
  }
  return hints satisfies InspectHints;
}

/** topics and describe: the binder, and the names to look for where it cannot list them. */
async function inspect(
  rest: readonly string[],
  env: Env,
  work: (binder: EventBinder, hints: InspectHints) => Promise<void>,
): Promise<void> {
  const s = loadSettings({ ...binderFlags, ...hintFlags }, { argv: rest, env });
  await withBinder(s, CONNECT_TIMEOUT_MS, async (binder) => await work(binder, await hintsFor(binder, s)));
}

function printTailed(message: TailedMessage, asJson: boolean): string {
  return `${asJson ? JSON.stringify(message) : message.payload}\n`;
}

async function tailCommand(destination: string, rest: readonly string[], env: Env, io: EventsIo): Promise<void> {
  const s = loadSettings({ ...binderFlags, ...tailFlags }, { argv: rest, env });
  await withBinder(s, CONNECT_TIMEOUT_MS, async (binder) => {
    const inspector = inspectorOf(binder);
    const feed = inspector.tail(destination, {
      fromBeginning: s.fromBeginning,
      ...(s.partition === undefined ? {} : { partition: s.partition }),
      ...(s.group === undefined ? {} : { group: s.group }),
      ...(s.timeoutMs === undefined ? {} : { timeoutMs: s.timeoutMs }),
    });
    // After the options are accepted: a refusal stays one line.
    noteLimit(inspector, 'tail', io);
    for await (const message of feed) io.stdout.write(printTailed(message, s.json));
  });
}

async function dlqCommand(positional: readonly string[], rest: readonly string[], env: Env, io: EventsIo) {
  const [action, destination, group, id] = positional;
  if (destination === undefined || group === undefined) {
    throw new SettingsError('missing <destination> <group> (see trellis events --help)');
  }
  const s = loadSettings({ ...binderFlags, ...dlqFlags }, { argv: rest, env });
  await withBinder(s, s.timeoutMs, async (binder) => {
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
  });
}

/**
 * `trellis events topics|describe|tail|dlq …`: the questions Kafka's scripts answer, and dead letters you can act on
 * (Spring has no standard replay), for every binder.
 */
export async function eventsCommand(argv: readonly string[], env: Env, io: EventsIo): Promise<void> {
  const { positional, rest } = words(argv);
  const [command, ...args] = positional;
  switch (command) {
    case 'topics':
      if (args.length > 0) throw new SettingsError('topics takes no argument (see trellis events --help)');
      await inspect(rest, env, async (binder, hints) => {
        const inspector = inspectorOf(binder);
        io.stdout.write(json(await inspector.topics(hints)));
        noteLimit(inspector, 'topics', io);
      });
      return;
    case 'describe':
    case 'tail': {
      const [destination, extra] = args;
      if (destination === undefined) throw new SettingsError(`missing <destination> (see trellis events --help)`);
      if (extra !== undefined) throw new SettingsError(`unexpected argument ${extra} (see trellis events --help)`);
      if (command === 'tail') {
        await tailCommand(destination, rest, env, io);
        return;
      }
      await inspect(rest, env, async (binder, hints) => {
        const inspector = inspectorOf(binder);
        io.stdout.write(json(await inspector.describe(destination, hints)));
        noteLimit(inspector, 'describe', io);
      });
      return;
    }
    case 'dlq':
      await dlqCommand(args, rest, env, io);
      return;
    case undefined:
    default:
      throw new SettingsError(`unknown events command ${JSON.stringify(command ?? '')} (see trellis events --help)`);
  }
}
