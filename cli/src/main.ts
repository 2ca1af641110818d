// The `trellis` command: `trellis up`, `trellis <component>` and the admin commands, each loading only what it runs.
import {
  type commonSettings,
  createLogger,
  currentWorker,
  isUserError,
  loadSettings,
  renderSettingsHelp,
  onPrimaryStop,
  reportWorkerReady,
  runUntilSignal,
  runWorkers,
  SettingsError,
  type Component,
  type Running,
  type SettingSpecs,
} from '@trellis/kit';
import { readFileSync } from 'node:fs';
import {
  CLIENTS_FLAGS,
  CLIENTS_HELP,
  clientsCommand,
  rotateKeysCommand,
  USERS_FLAGS,
  USERS_HELP,
  usersCommand,
  type AdminIo,
} from './admin.ts';
import { catalogue, entriesOf, loadAll, type CatalogueEntry } from './catalogue.ts';
import { EVENTS_FLAGS, EVENTS_HELP, eventsCommand } from './events.ts';
import { bashCompletion } from './completion.ts';
import { ensureLocalCa } from './local-ca.ts';
import { restartWithNodeFlags } from './node-flags.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface MainOptions {
  /** The components to offer, already loaded (tests); by default the catalogue's, each loaded when it runs. */
  readonly components?: readonly Component[];
  readonly stdout?: { write(text: string): unknown };
  readonly stderr?: { write(text: string): unknown };
  readonly exit?: (code: number) => void;
  readonly readStdin?: () => Promise<string>;
  /**
   * Restart the process with the V8 flags of the components it runs (see node-flags.ts) before starting them: only
   * the `trellis` bin asks, never a test calling main in its own worker.
   */
  readonly applyNodeFlags?: boolean;
}

type AdminCommand = (argv: readonly string[], env: Env, io: AdminIo) => Promise<void>;

/** Commands that manage state in the data directory instead of starting a component. */
const ADMIN: Readonly<
  Record<string, { summary: string; help: string; run: AdminCommand; flagSets: readonly SettingSpecs[] }>
> = {
  clients: {
    summary: "manage the auth server's OAuth clients",
    help: CLIENTS_HELP,
    run: clientsCommand,
    flagSets: [CLIENTS_FLAGS],
  },
  users: {
    summary: "manage the auth server's local users",
    help: USERS_HELP,
    run: usersCommand,
    flagSets: [USERS_FLAGS],
  },
  events: {
    summary: "inspect event destinations (topics, describe, tail) and a consumer group's dead letters",
    help: EVENTS_HELP,
    run: eventsCommand,
    flagSets: EVENTS_FLAGS,
  },
};

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // Fatal: bytes that are not UTF-8 would otherwise become U+FFFD, and a password stored as that lets a typed U+FFFD in.
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new SettingsError('standard input is not UTF-8 text');
  }
}

async function runAdmin(
  run: AdminCommand,
  argv: readonly string[],
  env: Env,
  io: AdminIo & Required<Pick<MainOptions, 'stderr' | 'exit'>>,
): Promise<void> {
  try {
    await run(argv, env, io);
    io.exit(0);
  } catch (err) {
    // Everything these commands refuse is the user's to fix (a bad flag, an unknown client): one line, exit 2.
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`trellis: ${message}\n`);
    io.exit(isUserError(err) || (err instanceof Error && 'code' in err) ? 2 : 1);
  }
}

function usage(entries: readonly CatalogueEntry[]): string {
  const width = Math.max(4, ...entries.map((c) => c.name.length));
  const lines = [
    'Usage: trellis <command> [flags]',
    '',
    'Commands:',
    `  ${'up'.padEnd(width)}  start the whole landscape in one process`,
    ...entries.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    ...Object.entries(ADMIN).map(([name, a]) => `  ${name.padEnd(width)}  ${a.summary}`),
    `  ${'version'.padEnd(width)}  print the versions of trellis and Node.js (also --version, -v)`,
    `  ${'completion'.padEnd(width)}  print a bash completion script: source <(trellis completion bash)`,
    `  ${'setup'.padEnd(width)}  check and install what the tests need (npm test runs it first)`,
    `  ${'health'.padEnd(width)}  exit 0 when a component answers its liveness probe (the image's HEALTHCHECK)`,
    '',
    "Run 'trellis <command> --help' for a command's flags and environment variables.",
  ];
  return lines.join('\n');
}

/** `trellis 0.1.0 (Node.js v24.1.0)`: read from cli/package.json, so it loads no component. */
export function versionLine(): string {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return `trellis ${version} (Node.js ${process.version})`;
}

const VERSION_COMMANDS: readonly string[] = ['version', '--version', '-v'];

/** What `trellis up --help` adds to its own flags: the components' flags it takes. */
const UP_COMPONENT_FLAGS_HELP =
  "Each component's own flags work here too (see trellis <component> --help), e.g. --no-seed-dev-clients;\n" +
  'flags several components share, such as --port, do not: each component has its own.';

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** Renders the start-up summary: where everything is, what to trust, and (for `up`) commands to try. */
export function renderSummary(running: readonly Running[], caFile: string, extra: readonly string[] = []): string {
  const width = Math.max(...running.map((r) => r.name.length), 4);
  const lines = ['', 'Trellis is up:'];
  for (const r of running) {
    lines.push(`  ${r.name.padEnd(width)}  ${r.endpoints.map((e) => e.url).join('  ') || '(no listener)'}`);
  }
  lines.push(
    '',
    `  Local CA: ${caFile}`,
    `  Trust it: curl --cacert ${caFile} …   or   NODE_EXTRA_CA_CERTS=${caFile} node …`,
  );
  const notes = running.flatMap((r) => r.notes ?? []);
  if (notes.length > 0) lines.push('', ...notes.map((n) => `  ${n}`));
  if (extra.length > 0) lines.push('', ...extra.map((n) => `  ${n}`));
  lines.push('', 'Press Ctrl-C to stop.', '');
  return lines.join('\n');
}

/**
 * The `trellis` command: `trellis up` runs every component in one process; `trellis <component>` runs one.
 * Bad flags, ports in use and unreadable files print one line and exit 2.
 */
export async function main(argv: readonly string[], env: Env, options: MainOptions = {}): Promise<void> {
  const entries = options.components === undefined ? catalogue : entriesOf(options.components);
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const [command, ...rest] = argv;

  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    stdout.write(`${usage(entries)}\n`);
    exit(command === undefined ? 2 : 0);
    return;
  }

  if (VERSION_COMMANDS.includes(command)) {
    stdout.write(`${versionLine()}\n`);
    exit(0);
    return;
  }

  if (command === 'completion') {
    await printCompletion(entries, rest, { stdout, stderr, exit });
    return;
  }

  if (command === 'setup') {
    const { SETUP_HELP, setupCommand } = await import('./setup.ts');
    const unknown = rest.find((arg) => arg !== '--check' && arg !== '--help' && arg !== '-h');
    if (wantsHelp(rest) || unknown !== undefined) {
      if (unknown !== undefined) stderr.write(`trellis: unknown setup flag ${JSON.stringify(unknown)}\n`);
      (unknown === undefined ? stdout : stderr).write(`${SETUP_HELP}\n`);
      exit(unknown === undefined ? 0 : 2);
      return;
    }
    exit(await setupCommand(rest, env, { stderr }));
    return;
  }

  if (command === 'health') {
    const { HEALTH_HELP, healthCommand } = await import('./health.ts');
    if (wantsHelp(rest)) {
      stdout.write(`${HEALTH_HELP}\n`);
      exit(0);
      return;
    }
    await healthCommand(entries, rest, env, { stdout, stderr, exit });
    return;
  }

  if (command === 'up') {
    const { runUp, upSettings } = await import('./up.ts');
    if (wantsHelp(rest)) {
      stdout.write(
        `Usage: trellis up [flags]\n\nStarts: ${entries.map((c) => c.name).join(', ') || 'nothing yet'}\n\n${renderSettingsHelp(upSettings())}\n\n${UP_COMPONENT_FLAGS_HELP}\n`,
      );
      exit(0);
      return;
    }
    if (
      options.applyNodeFlags === true &&
      restartWithNodeFlags(
        entries.flatMap((e) => e.nodeFlags ?? []),
        env,
      )
    )
      return;
    await runUp(entries, rest, env, { stdout, stderr, exit }, renderSummary);
    return;
  }

  const admin = ADMIN[command];
  if (admin !== undefined) {
    if (wantsHelp(rest)) {
      stdout.write(`${admin.help}\n`);
      exit(0);
      return;
    }
    await runAdmin(admin.run, rest, env, { stdout, stderr, exit, readStdin: options.readStdin ?? readAllStdin });
    return;
  }
  if (command === 'auth-server' && rest[0] === 'rotate-keys') {
    await runAdmin(rotateKeysCommand, rest.slice(1), env, {
      stdout,
      stderr,
      exit,
      readStdin: options.readStdin ?? readAllStdin,
    });
    return;
  }

  const entry = entries.find((c) => c.name === command);
  if (entry === undefined) {
    stderr.write(`trellis: unknown command ${JSON.stringify(command)} (see trellis --help)\n`);
    exit(2);
    return;
  }
  if (options.applyNodeFlags === true && !wantsHelp(rest) && restartWithNodeFlags(entry.nodeFlags ?? [], env)) return;
  const component = await entry.load();
  if (wantsHelp(rest)) {
    stdout.write(
      `Usage: trellis ${component.name} [flags]\n\n${component.summary}\n\n${renderSettingsHelp(component.settings)}\n`,
    );
    exit(0);
    return;
  }
  if (!('workers' in component.settings) && rest.some((arg) => arg === '--workers' || arg.startsWith('--workers='))) {
    stderr.write(`trellis: ${component.name} runs in one process; --workers is for the gateway and the auth server\n`);
    exit(2);
    return;
  }
  await runComponents([component], component.settings, rest, env, { stdout, stderr, exit }, (_, flags) => flags);
}

const COMPLETION_USAGE = 'Usage: trellis completion bash   (load it with: source <(trellis completion bash))';

/** `trellis completion bash`: loads every component, since the script lists each one's flags. */
async function printCompletion(
  entries: readonly CatalogueEntry[],
  argv: readonly string[],
  io: Required<Pick<MainOptions, 'stdout' | 'stderr' | 'exit'>>,
): Promise<void> {
  if (wantsHelp(argv)) {
    io.stdout.write(`${COMPLETION_USAGE}\n`);
    io.exit(0);
    return;
  }
  if (argv.length !== 1 || argv[0] !== 'bash') {
    io.stderr.write('trellis: completion knows one shell, bash: source <(trellis completion bash)\n');
    io.exit(2);
    return;
  }
  const components = await loadAll(entries);
  const { landscapeFlagSpecs } = await import('./up.ts');
  const commands = [
    { name: 'up', flagSets: [landscapeFlagSpecs(components)] },
    ...components.map((c) => ({ name: c.name, flagSets: [c.settings] })),
    ...Object.entries(ADMIN).map(([name, admin]) => ({ name, flagSets: admin.flagSets })),
  ];
  io.stdout.write(
    bashCompletion(commands, ['completion', 'setup', 'health', 'version', 'help', '--help', '--version']),
  );
  io.exit(0);
}

async function runComponents(
  components: readonly Component[],
  specs: SettingSpecs,
  argv: readonly string[],
  env: Env,
  io: Required<Pick<MainOptions, 'stdout' | 'stderr' | 'exit'>>,
  settingsFor: (component: Component, flags: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  let flags: Record<string, unknown>;
  try {
    flags = loadSettings(specs, { argv, env });
  } catch (err) {
    if (!isUserError(err)) throw err;
    io.stderr.write(`trellis: ${err.message}\n`);
    io.exit(2);
    return;
  }
  const common = flags as ReturnType<typeof loadSettings<ReturnType<typeof commonSettings>>>;
  const root = createLogger({ name: 'trellis', level: common.logLevel, format: common.logFormat });
  const [only] = components;
  const workers = typeof flags.workers === 'number' ? flags.workers : 1;
  const worker = currentWorker();
  if (only !== undefined && components.length === 1 && workers > 1 && worker === undefined) {
    // The primary serves nothing itself; the local CA is made once here rather than raced for by every worker.
    try {
      await ensureLocalCa(common.dataDir, root);
    } catch (err) {
      if (!isUserError(err)) throw err;
      io.stderr.write(`trellis: ${err.message}\n`);
      io.exit(2);
      return;
    }
    await runWorkers({ name: only.name, workers, logger: root, stderr: io.stderr, exit: io.exit });
    return;
  }
  // Each worker's lines say which one wrote them.
  const logger = worker === undefined ? root : root.child({ worker: worker.slot });
  await runUntilSignal(
    async (started) => {
      const caFile = await ensureLocalCa(common.dataDir, logger);
      for (const component of components) {
        const settings = settingsFor(component, flags);
        started.push(await component.start(settings, { logger: logger.child({ component: component.name }), env }));
      }
      // One summary, from the first worker, not N copies of it (nor again when it is replaced).
      if (worker === undefined || (worker.slot === 1 && !worker.restarted))
        io.stdout.write(renderSummary(started, caFile));
      reportWorkerReady();
    },
    { logger, stderr: io.stderr, exit: io.exit, stopRequests: onPrimaryStop },
  );
}
