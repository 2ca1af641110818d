// The per-application rule as a property: whatever path a client limited to one application asks for (environment,
// renderings, plain files, with labels, profiles, several names, `(_)` and `%2F` label forms), no response carries a
// value that lives only in another application's documents. Checked on the native, git and SQLite backends.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessControl, parseClients } from '../../src/access/clients.ts';
import { createOwnership } from '../../src/access/ownership.ts';
import { createApp } from '../../src/app.ts';
import { createGitBackend, type GitBackend } from '../../src/backends/git.ts';
import { createNativeBackend } from '../../src/backends/native.ts';
import { createSqliteBackend } from '../../src/backends/jdbc.ts';
import type { EnvironmentBackend } from '../../src/backends/types.ts';
import { createSymmetricEncryptor } from '../../src/cipher/index.ts';
import { loadKeyChain } from '../../src/load-key-chain.ts';
import { openPropertyStore } from '../../src/store/properties.ts';
import { GIT_ENV, gitIn, silentLogger } from '../helpers.ts';

const KEY = 'ownership-test-key';
const encryptor = createSymmetricEncryptor({ key: KEY });
const keys = await loadKeyChain({ encryptKey: KEY });

/** Who a document belongs to: an application, `shared` (the `application` files) or `nobody` (unrestricted only). */
type Owner = string;

/** Every document: its path, its owner, and the marker only it holds (a decrypted one for product-composite). */
const DOCUMENTS: readonly { path: string; owner: Owner; text?: string }[] = [
  { path: 'application.yml', owner: 'shared' },
  { path: 'application-docker.yml', owner: 'shared' },
  { path: 'product.yml', owner: 'product' },
  { path: 'product-docker.yml', owner: 'product' },
  { path: 'product-composite.yml', owner: 'product-composite' },
  { path: 'product-composite-docker.yml', owner: 'product-composite' },
  { path: 'product-composite-composite.yml', owner: 'product-composite' },
  { path: 'review.yml', owner: 'review' },
  { path: 'review-docker.yml', owner: 'review' },
  { path: 'main/product-composite.yml', owner: 'product-composite' },
  { path: 'main/product.yml', owner: 'product' },
  { path: 'v2/product-composite-docker.yml', owner: 'product-composite' },
  { path: 'v2/review.properties', owner: 'review' },
  { path: 'feature/x/product-composite.yml', owner: 'product-composite' },
  // A directory named after an application holds that application's documents, whatever their file names.
  { path: 'review/application.yml', owner: 'review' },
  { path: 'review/product.yml', owner: 'review' },
  { path: 'review/nginx.conf', owner: 'review' },
  { path: 'product/notes.txt', owner: 'product' },
  { path: 'product-notes.txt', owner: 'product' },
  { path: 'product-composite.json', owner: 'product-composite' },
  { path: 'product-composite-notes.txt', owner: 'product-composite' },
  { path: 'review.json', owner: 'review' },
  { path: 'nginx.conf', owner: 'nobody' },
  { path: 'tls/ca-key.pem', owner: 'nobody' },
];

const marker = (path: string): string => `MARK_${path.replace(/\W/g, '_')}_END`;
const SECRET = 'PC-DECRYPTED-SECRET';
// Lives outside the repository; only symbolic links inside it point there.
const OUTSIDE = 'MARK_outside_END';

function contentOf(path: string): string {
  const m = marker(path);
  if (/\.ya?ml$/.test(path)) {
    const secret = path.includes('product-composite') ? `app.secret: '{cipher}${encryptor.encrypt(SECRET)}'\n` : '';
    return `marker.${path.replace(/\W/g, '_')}: ${m}\n${secret}`;
  }
  if (path.endsWith('.properties')) return `marker.${path.replace(/\W/g, '_')}=${m}\n`;
  if (path.endsWith('.json')) return `{"marker": "${m}"}\n`;
  return `${m}\n`;
}

function writeTree(root: string): void {
  for (const { path } of DOCUMENTS) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), contentOf(path));
  }
}

const CLIENTS =
  'product:secret-product:product;pc:secret-pc:product-composite;review:secret-review:review;ops:secret-ops:*';
const access = createAccessControl(parseClients(CLIENTS));
const RESTRICTED = [
  { app: 'product', secret: 'secret-product' },
  { app: 'product-composite', secret: 'secret-pc' },
  { app: 'review', secret: 'secret-review' },
] as const;
const auth = (secret: string): Record<string, string> => ({ 'x-config-token': secret });

/** What no client of `app` may ever see. */
function forbiddenFor(app: string): string[] {
  const out = DOCUMENTS.filter((d) => d.owner !== app && d.owner !== 'shared').map((d) => marker(d.path));
  out.push(OUTSIDE);
  if (app !== 'product-composite') out.push(SECRET);
  // The SQLite rows carry markers named after their APPLICATION column.
  for (const other of ['product', 'product-composite', 'review']) if (other !== app) out.push(`ROW_${other}_`);
  return out;
}

const NAMES = [
  'product',
  'product-composite',
  'review',
  'application',
  'product,application',
  'application,product',
  'product(_)composite',
];
const PROFILES = [
  'default',
  'docker',
  'composite',
  'composite-docker',
  'composite-composite',
  'docker,composite',
  'composite,docker',
  'composite.json',
  'docker.yml',
  'notes',
  'composite2',
];
const LABELS = [undefined, 'main', 'v2', 'review', 'product', 'feature(_)x', 'feature%2Fx', 'feature%2fx'];
const EXTENSIONS = ['yml', 'yaml', 'properties', 'json'];
const PLAIN = [
  'nginx.conf',
  'notes.txt',
  'review/nginx.conf',
  'review(_)nginx.conf',
  'product/notes.txt',
  'product-composite.json',
  'product.json',
  'review',
  'product',
  'review.json',
  'tls/ca-key.pem',
  'tls(_)ca-key.pem',
  'product-composite.yml',
  'application.yml',
  'product.yml',
  'outside.txt',
  'product-linked.yml',
  'product-dir/ca-key.pem',
];

/** Every request path the generators make, for the client of `app`. */
function* paths(app: string): Generator<string> {
  const names = [...NAMES, app];
  for (const n of names) {
    for (const p of PROFILES) {
      yield `/${n}/${p}`;
      for (const l of LABELS) if (l !== undefined) yield `/${n}/${p}/${l}`;
      for (const ext of EXTENSIONS) {
        for (const l of LABELS) yield `${l === undefined ? '' : `/${l}`}/${n}-${p}.${ext}`;
      }
    }
    // Renderings whose name and profile split at the last hyphen compose into another application's file names.
    for (const ext of EXTENSIONS) for (const l of LABELS) yield `${l === undefined ? '' : `/${l}`}/${n}.${ext}`;
  }
  for (const p of ['default', 'docker', 'composite', 'docker.yml', 'composite.json', 'notes']) {
    for (const l of ['main', 'v2', 'review', 'feature(_)x']) {
      for (const f of PLAIN) yield `/${app}/${p}/${l}/${f}`;
    }
  }
}

interface Leak {
  readonly path: string;
  readonly status: number;
  readonly marker: string;
}

async function leaksOf(app: ReturnType<typeof createApp>): Promise<{ leaks: Leak[]; statuses: Map<number, number> }> {
  const leaks: Leak[] = [];
  const statuses = new Map<number, number>();
  // The unrestricted client too: no client ever reads through a symbolic link.
  for (const client of [...RESTRICTED, { app: 'product', secret: 'secret-ops', unrestricted: true }]) {
    const forbidden = 'unrestricted' in client ? [OUTSIDE] : forbiddenFor(client.app);
    for (const path of paths(client.app)) {
      const res = await app.request(path, { headers: auth(client.secret) });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const body = await res.text();
      // Whatever the answer, never a 500: bad input is a 4xx.
      if (res.status >= 500) leaks.push({ path, status: res.status, marker: '5xx' });
      for (const m of forbidden)
        if (body.includes(m)) leaks.push({ path: `${client.app} ${path}`, status: res.status, marker: m });
    }
  }
  return { leaks, statuses };
}

/** What the legitimately permitted clients must still get, so the property cannot pass by refusing everything. */
async function expectPermittedReads(app: ReturnType<typeof createApp>, files: boolean): Promise<void> {
  const product = await app.request('/product/docker', { headers: auth('secret-product') });
  expect(product.status).toBe(200);
  const productBody = await product.text();
  const pc = await app.request('/product-composite/docker', { headers: auth('secret-pc') });
  expect(pc.status).toBe(200);
  const pcBody = await pc.text();
  expect(pcBody).toContain(SECRET);
  if (files) {
    expect(productBody).toContain(marker('product-docker.yml'));
    expect(productBody).toContain(marker('application-docker.yml'));
    expect(pcBody).toContain(marker('product-composite-docker.yml'));
    const plain = await app.request('/product/default/main/product/notes.txt', { headers: auth('secret-product') });
    expect(await plain.text()).toContain(marker('product/notes.txt'));
    const ops = await app.request('/product/composite', { headers: auth('secret-ops') });
    expect(await ops.text()).toContain(marker('product-composite.yml'));
  } else {
    expect(productBody).toContain('ROW_product_docker');
    expect(productBody).toContain('ROW_application_default');
    expect(pcBody).toContain('ROW_product-composite_docker');
  }
}

const outside = mkdtempSync(join(tmpdir(), 'ownership-outside-'));
writeFileSync(join(outside, 'secret.yml'), `outside: ${OUTSIDE}\n`);
writeFileSync(join(outside, 'ca-key.pem'), `${OUTSIDE}\n`);
afterAll(() => rmSync(outside, { recursive: true, force: true }));

/** Links that must never be followed: a file and a directory outside, and a link to another application's file. */
function addLinks(root: string): void {
  symlinkSync(join(outside, 'secret.yml'), join(root, 'product-linked.yml'));
  symlinkSync(join(outside, 'secret.yml'), join(root, 'outside.txt'));
  symlinkSync(outside, join(root, 'product-dir'));
  symlinkSync('product-composite.yml', join(root, 'product-composite2.yml'));
}

// Each case walks hundreds of requests through every route; on a loaded two-core machine that outlasts the default 20 s.
describe(
  'a client limited to one application receives only its own and the shared documents',
  { timeout: 90_000 },
  () => {
    it('native backend: on every route, label, profile and extension', async () => {
      const root = mkdtempSync(join(tmpdir(), 'ownership-native-'));
      try {
        writeTree(root);
        addLinks(root);
        const backend = createNativeBackend({ root, defaultLabel: 'main' });
        const app = createApp({ logger: silentLogger(), backend, access, ...(keys === undefined ? {} : { keys }) });
        try {
          await expectPermittedReads(app, true);
          const { leaks, statuses } = await leaksOf(app);
          expect(leaks).toEqual([]);
          expect(statuses.get(200) ?? 0).toBeGreaterThan(500);
        } finally {
          await backend.close();
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });

    describe('git backend', () => {
      const remote = mkdtempSync(join(tmpdir(), 'ownership-git-remote-'));
      const data = mkdtempSync(join(tmpdir(), 'ownership-git-data-'));
      let backend: GitBackend;
      beforeAll(async () => {
        const git = gitIn(remote);
        git('init', '--quiet', '-b', 'main');
        writeTree(remote);
        addLinks(remote);
        git('add', '-A');
        git('commit', '--quiet', '-m', 'documents');
        // Labels are branches here: the same names the native tree has as directories.
        for (const branch of ['v2', 'review', 'product', 'feature/x']) git('branch', branch);
        backend = createGitBackend({
          uri: remote,
          baseDir: data,
          defaultLabel: 'main',
          // Search paths: a directory per application and one per label, as Spring's search-paths allow.
          searchPaths: ['{application}', '{label}'],
          env: GIT_ENV,
        });
        await backend.start();
      });
      afterAll(async () => {
        await backend.close();
        rmSync(remote, { recursive: true, force: true });
        rmSync(data, { recursive: true, force: true });
      });

      it('on every route, label, profile, extension and search path', async () => {
        const app = createApp({ logger: silentLogger(), backend, access, ...(keys === undefined ? {} : { keys }) });
        await expectPermittedReads(app, true);
        const { leaks, statuses } = await leaksOf(app);
        expect(leaks).toEqual([]);
        expect(statuses.get(200) ?? 0).toBeGreaterThan(500);
      });

      it('serves no symbolic link of the tree, not even its target path, to an unrestricted client', async () => {
        const app = createApp({ logger: silentLogger(), backend, access });
        for (const path of [
          'outside.txt',
          'product-linked.yml',
          'product-dir(_)ca-key.pem',
          'product-composite2.yml',
        ]) {
          const res = await app.request(`/product/default/main/${path}`, { headers: auth('secret-ops') });
          expect(res.status, path).toBe(404);
        }
        const env = await app.request('/product/linked', { headers: auth('secret-ops') });
        expect(await env.text()).not.toContain('product-linked.yml');
      });
    });

    it('SQLite backend: rows are the APPLICATION they are stored under', async () => {
      const store = openPropertyStore({ file: ':memory:', pollMs: 0 });
      for (const application of ['application', 'product', 'product-composite', 'review']) {
        for (const profile of ['default', 'docker', 'composite', 'composite-docker']) {
          for (const label of ['master', 'main', 'v2']) {
            await store.write({
              scope: { application, profile, label },
              set: {
                [`row.${application}.${profile}`]: `ROW_${application}_${profile}_${label}`,
                ...(application === 'product-composite'
                  ? { 'app.secret': `{cipher}${encryptor.encrypt(SECRET)}` }
                  : {}),
              },
              actor: 'test',
            });
          }
        }
      }
      const backend: EnvironmentBackend = createSqliteBackend({ store });
      const app = createApp({ logger: silentLogger(), backend, access, ...(keys === undefined ? {} : { keys }) });
      try {
        await expectPermittedReads(app, false);
        const { leaks } = await leaksOf(app);
        expect(leaks).toEqual([]);
      } finally {
        await backend.close();
      }
    });
  },
);

describe('createOwnership', () => {
  const ownership = createOwnership(['product', 'product-composite', 'review']);
  const client = (applications: string[]) => ({ id: applications.join('+'), applications });
  const product = ownership.viewOf(client(['product']));

  it('reads a file name as the longest known application it starts with', () => {
    expect(product?.admits({ file: 'product.yml' })).toBe(true);
    expect(product?.admits({ file: 'product-docker.yml' })).toBe(true);
    expect(product?.admits({ file: 'product-composite.yml' })).toBe(false);
    expect(product?.admits({ file: 'product-composite-docker.yml' })).toBe(false);
    // Some file systems ignore case: Product-Composite.yml may be the very same file.
    expect(product?.admits({ file: 'Product-Composite.yml' })).toBe(false);
    expect(product?.admits({ file: 'productive.yml' })).toBe(false);
  });

  it('needs every application a path names, directories included; application is shared', () => {
    expect(product?.admits({ file: 'main/product.yml' })).toBe(true);
    expect(product?.admits({ file: 'application-docker.yml' })).toBe(true);
    expect(product?.admits({ file: 'product/application.yml' })).toBe(true);
    expect(product?.admits({ file: 'review/application.yml' })).toBe(false);
    expect(product?.admits({ file: 'review/product.yml' })).toBe(false);
    expect(ownership.viewOf(client(['product', 'review']))?.admits({ file: 'review/product.yml' })).toBe(true);
  });

  it('gives documents that name no application, and sources with no document, to unrestricted clients only', () => {
    expect(product?.admits({ file: 'nginx.conf' })).toBe(false);
    expect(product?.admits({ file: 'tls/ca-key.pem' })).toBe(false);
    expect(product?.admits(undefined)).toBe(false);
    expect(ownership.viewOf(client(['*']))).toBeUndefined();
    expect(ownership.viewOf(undefined)).toBeUndefined();
  });

  it('takes SQLite rows as their APPLICATION column says, with no name splitting', () => {
    expect(product?.admits({ application: 'product' })).toBe(true);
    expect(product?.admits({ application: 'application' })).toBe(true);
    expect(product?.admits({ application: 'product-composite' })).toBe(false);
  });
});
