import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DEV_FILES, ensureDevCertificates, TlsError } from '../../src/tls/index.ts';
import type { TlsLogger } from '../../src/tls/index.ts';
import { captureLines, DAY_MS, tempDirs } from './helpers.ts';

const temp = tempDirs();
afterEach(temp.cleanup);

const POSIX = process.platform !== 'win32';

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

function parse(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

describe('ensureDevCertificates on first use', () => {
  it('creates an owner-only directory with a CA and a server certificate, keys readable by the owner only', async () => {
    const dir = join(await temp.make(), 'data', 'tls');
    const tls = await ensureDevCertificates({ dir });

    expect(tls.created).toBe(true);
    expect(tls.caFile).toBe(join(dir, 'ca.pem'));
    expect(tls.certFile).toBe(join(dir, 'server.pem'));
    expect(tls.keyFile).toBe(join(dir, 'server-key.pem'));
    expect((await readdir(dir)).sort()).toEqual(['ca-key.pem', 'ca.pem', 'server-key.pem', 'server.pem']);
    expect(await readFile(tls.caFile, 'utf8')).toBe(tls.ca);
    expect(await readFile(tls.certFile, 'utf8')).toBe(tls.cert);
    expect(await readFile(tls.keyFile, 'utf8')).toBe(tls.key);
    if (POSIX) {
      expect(await modeOf(dir)).toBe(0o700);
      expect(await modeOf(join(dir, DEV_FILES.caKeyFile))).toBe(0o600);
      expect(await modeOf(tls.keyFile)).toBe(0o600);
    }
  });

  it('makes a ten-year CA that may sign certificates, named for a trust store', async () => {
    const now = new Date('2030-03-01T12:00:00Z');
    const tls = await ensureDevCertificates({ dir: await temp.make(), now });
    const ca = parse(tls.ca);

    expect(ca.ca).toBe(true);
    expect(ca.subject).toMatch(/^CN=Trellis Development CA [0-9a-f]{8}$/m);
    expect(ca.issuer).toBe(ca.subject);
    expect(ca.verify(ca.publicKey)).toBe(true);
    const years = (new Date(ca.validTo).getTime() - now.getTime()) / (365 * DAY_MS);
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
    const text = ca.toLegacyObject();
    expect(text.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
  });

  it('issues a server certificate for localhost, loopback IPs, this host and extra names, valid under 398 days', async () => {
    const now = new Date('2030-03-01T12:00:00Z');
    const tls = await ensureDevCertificates({
      dir: await temp.make(),
      hostnames: ['Dev.Example.Test', '10.1.2.3', '[fd00::1]'],
      now,
    });
    const cert = parse(tls.cert);

    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(parse(tls.ca))).toBe(true);
    expect(cert.verify(parse(tls.ca).publicKey)).toBe(true);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost(hostname().toLowerCase())).toBe(hostname().toLowerCase());
    expect(cert.checkHost('dev.example.test')).toBe('dev.example.test');
    expect(cert.checkHost('other.example.test')).toBeUndefined();
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(cert.checkIP('fd00::1')).toBe('fd00::1');
    // IP literals must not land in DNS SANs, where clients would never match them.
    expect(cert.subjectAltName).not.toMatch(/DNS:10\.1\.2\.3/);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const lifetimeDays = (new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()) / DAY_MS;
    expect(lifetimeDays).toBeGreaterThan(360);
    expect(lifetimeDays).toBeLessThan(398);
    expect(cert.serialNumber).not.toBe(parse(tls.ca).serialNumber);
  });

  it('writes server.pem with the leaf certificate only', async () => {
    const tls = await ensureDevCertificates({ dir: await temp.make() });
    expect(tls.cert.match(/-----BEGIN /g)).toHaveLength(1);
    expect(tls.cert).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
  });

  it('refuses a hostname a certificate cannot hold, before touching the disk', async () => {
    const dir = join(await temp.make(), 'tls');
    const attempt = ensureDevCertificates({ dir, hostnames: ['not a host'] });
    await expect(attempt).rejects.toBeInstanceOf(TlsError);
    await expect(attempt).rejects.toMatchObject({ code: 'invalid_hostname' });
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('hands every concurrent caller the same CA and certificate, creating them once', async () => {
    const dir = await temp.make();
    const results = await Promise.all([1, 2, 3, 4].map(() => ensureDevCertificates({ dir })));

    expect(results.filter((r) => r.created)).toHaveLength(1);
    const onDisk = await readFile(join(dir, 'ca.pem'), 'utf8');
    const certOnDisk = await readFile(join(dir, 'server.pem'), 'utf8');
    for (const r of results) {
      expect(r.ca).toBe(onDisk);
      expect(r.cert).toBe(certOnDisk);
    }
    expect(await readdir(dir)).not.toContain('.lock');
  });
});

describe('ensureDevCertificates on later calls', () => {
  it('reuses the stored files', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    const second = await ensureDevCertificates({ dir });

    expect(second.created).toBe(false);
    expect(second.cert).toBe(first.cert);
    expect(second.key).toBe(first.key);
    expect(second.ca).toBe(first.ca);
  });

  it('re-issues the server certificate within 30 days of expiry and keeps the CA users trusted', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    const caKey = await readFile(join(dir, 'ca-key.pem'), 'utf8');
    const expires = new Date(parse(first.cert).validTo).getTime();

    const stillFine = await ensureDevCertificates({ dir, now: new Date(expires - 31 * DAY_MS) });
    expect(stillFine.created).toBe(false);
    expect(stillFine.cert).toBe(first.cert);

    const renewed = await ensureDevCertificates({ dir, now: new Date(expires - 29 * DAY_MS) });
    expect(renewed.created).toBe(true);
    expect(renewed.ca).toBe(first.ca);
    expect(await readFile(join(dir, 'ca-key.pem'), 'utf8')).toBe(caKey);
    expect(renewed.cert).not.toBe(first.cert);
    expect(renewed.key).not.toBe(first.key);
    expect(new Date(parse(renewed.cert).validTo).getTime()).toBeGreaterThan(expires);
    expect(parse(renewed.cert).verify(parse(first.ca).publicKey)).toBe(true);
  });

  it('replaces a CA near its own expiry, and warns that it must be trusted again', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    const caExpires = new Date(parse(first.ca).validTo).getTime();
    const warnings: string[] = [];
    const logger: TlsLogger = { warn: (_obj, msg) => warnings.push(msg) };

    const later = await ensureDevCertificates({ dir, now: new Date(caExpires - 10 * DAY_MS), logger });
    expect(later.created).toBe(true);
    expect(later.ca).not.toBe(first.ca);
    expect(parse(later.cert).verify(parse(later.ca).publicKey)).toBe(true);
    expect(warnings).toContain('replaced development CA; trust the new one');
  });

  it('re-issues for a newly requested name, keeping the CA, and then reuses for fewer names', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    const wider = await ensureDevCertificates({ dir, hostnames: ['api.dev.test', '192.168.7.7'] });

    expect(wider.created).toBe(true);
    expect(wider.ca).toBe(first.ca);
    expect(parse(wider.cert).checkHost('api.dev.test')).toBe('api.dev.test');
    expect(parse(wider.cert).checkIP('192.168.7.7')).toBe('192.168.7.7');

    const narrower = await ensureDevCertificates({ dir, hostnames: ['API.dev.test.'] });
    expect(narrower.created).toBe(false);
    expect(narrower.cert).toBe(wider.cert);
  });

  it('re-issues a server certificate a crash left half-written, keeping the CA', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    await writeFile(first.certFile, first.cert.slice(0, first.cert.length / 2));

    const healed = await ensureDevCertificates({ dir });
    expect(healed.created).toBe(true);
    expect(healed.ca).toBe(first.ca);
    expect(parse(healed.cert).checkIssued(parse(first.ca))).toBe(true);
  });

  it('re-issues when the server key no longer belongs to the certificate', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    await writeFile(first.keyFile, await readFile(join(dir, 'ca-key.pem')));

    const healed = await ensureDevCertificates({ dir });
    expect(healed.created).toBe(true);
    expect(healed.ca).toBe(first.ca);
    expect(healed.key).not.toBe(await readFile(join(dir, 'ca-key.pem'), 'utf8'));
  });

  it('re-issues a server certificate signed by another CA', async () => {
    const dir = await temp.make();
    const other = await ensureDevCertificates({ dir: await temp.make() });
    const first = await ensureDevCertificates({ dir });
    await writeFile(first.certFile, other.cert);
    await writeFile(first.keyFile, other.key);

    const healed = await ensureDevCertificates({ dir });
    expect(healed.created).toBe(true);
    expect(healed.cert).not.toBe(other.cert);
    expect(parse(healed.cert).verify(parse(first.ca).publicKey)).toBe(true);
  });

  it('replaces a CA whose key file is empty, warning that it changed', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    await writeFile(join(dir, 'ca-key.pem'), '');
    const warnings: Array<Record<string, unknown>> = [];

    const healed = await ensureDevCertificates({ dir, logger: { warn: (obj) => warnings.push(obj) } });
    expect(healed.created).toBe(true);
    expect(healed.ca).not.toBe(first.ca);
    expect(warnings).toEqual([{ caFile: join(dir, 'ca.pem'), reason: 'the CA key does not parse' }]);
  });

  it('replaces a CA whose key was deleted rather than treating it as a first run', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    await rm(join(dir, 'ca-key.pem'));
    const warnings: Array<Record<string, unknown>> = [];

    const healed = await ensureDevCertificates({ dir, logger: { warn: (obj) => warnings.push(obj) } });
    expect(healed.ca).not.toBe(first.ca);
    expect(warnings).toEqual([{ caFile: join(dir, 'ca.pem'), reason: `${join(dir, 'ca-key.pem')} is missing` }]);
  });

  it('removes temp files an interrupted write left behind', async () => {
    const dir = await temp.make();
    await mkdir(dir, { recursive: true });
    const leftover = join(dir, 'server.pem.4242.0123456789ab.tmp');
    await writeFile(leftover, '-----BEGIN CERT');

    await ensureDevCertificates({ dir });
    expect(await readdir(dir)).not.toContain('server.pem.4242.0123456789ab.tmp');
  });
});

describe.skipIf(!POSIX)('ensureDevCertificates and file permissions', () => {
  it('tightens private keys that others can read back to 0600 and logs which file, never the key', async () => {
    const dir = await temp.make();
    const first = await ensureDevCertificates({ dir });
    const caKey = join(dir, 'ca-key.pem');
    await chmod(caKey, 0o644);
    await chmod(first.keyFile, 0o640);
    const capture = captureLines();
    const logger = pino({ level: 'info' }, capture.stream);

    const again = await ensureDevCertificates({ dir, logger });
    expect(again.created).toBe(false);
    expect(await modeOf(caKey)).toBe(0o600);
    expect(await modeOf(first.keyFile)).toBe(0o600);
    const tightened = capture.lines.filter((l) => l['msg'] === 'tightened permissions');
    expect(tightened.map((l) => l['file']).sort()).toEqual([caKey, first.keyFile].sort());
    expect(tightened.every((l) => l['level'] === 40)).toBe(true);
    expect(capture.text()).not.toMatch(/PRIVATE KEY/);
  });

  it('logs paths and reasons when issuing, never PEM text', async () => {
    const capture = captureLines();
    const tls = await ensureDevCertificates({
      dir: await temp.make(),
      logger: pino({ level: 'info' }, capture.stream),
    });

    expect(capture.lines.map((l) => l['msg'])).toEqual([
      'created development CA; trust it to avoid warnings',
      'issued development server certificate',
    ]);
    const keyBody = tls.key.split('\n')[1] ?? 'unreachable';
    expect(capture.text()).not.toContain(keyBody);
    expect(capture.text()).not.toMatch(/-----BEGIN/);
  });
});
