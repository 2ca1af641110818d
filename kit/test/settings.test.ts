import { describe, expect, it } from 'vitest';
import { loadSettings, renderSettingsHelp, setting, SettingsError } from '../src/settings.ts';

const specs = {
  port: setting.port({ flag: 'port', env: 'PORT', default: 8761, help: 'HTTP port' }),
  dataDir: setting.string({ flag: 'data-dir', env: ['TRELLIS_DATA_DIR', 'DATA_DIR'], default: './data', help: 'data' }),
  peers: setting.list({ flag: 'peers', env: 'PEERS', default: [], help: 'peers' }),
  key: setting.string({ flag: 'encrypt-key', env: 'ENCRYPT_KEY', secret: true, help: 'key' }),
  strong: setting.boolean({ flag: 'strong', env: 'STRONG', default: false, help: 'strong' }),
  mode: setting.choice(['a', 'b'], { flag: 'mode', env: 'MODE', default: 'a', help: 'mode' }),
};

describe('loadSettings', () => {
  it('takes a flag over the environment over the default', () => {
    expect(loadSettings(specs, {}).port).toBe(8761);
    expect(loadSettings(specs, { env: { PORT: '9000' } }).port).toBe(9000);
    expect(loadSettings(specs, { argv: ['--port', '9100'], env: { PORT: '9000' } }).port).toBe(9100);
  });

  it('reads the first of several variable names that is set, and parses lists and booleans', () => {
    const s = loadSettings(specs, { argv: ['--strong'], env: { DATA_DIR: '/d', PEERS: 'a, b,,c' } });
    expect(s.dataDir).toBe('/d');
    expect(s.peers).toEqual(['a', 'b', 'c']);
    expect(s.strong).toBe(true);
    expect(s.key).toBeUndefined();
  });

  it('names the flag and the bad value when a port is invalid', () => {
    expect(() => loadSettings(specs, { argv: ['--port', 'eighty'] })).toThrow(
      new SettingsError('invalid --port: "eighty" is not a port number (0-65535, 0 picks a free port)'),
    );
    expect(() => loadSettings(specs, { env: { PORT: '70000' } })).toThrow(/invalid PORT: "70000"/);
  });

  it('never echoes the value of a secret setting', () => {
    const specsWithInt = { n: setting.integer({ env: 'N', secret: true, min: 1, max: 3, help: 'n' }) };
    expect(() => loadSettings(specsWithInt, { env: { N: 'hunter2' } })).toThrow(SettingsError);
    try {
      loadSettings(specsWithInt, { env: { N: 'hunter2' } });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
      expect((err as Error).message).toContain('N');
    }
  });

  it('rejects unknown flags and missing required settings with a message naming them', () => {
    expect(() => loadSettings(specs, { argv: ['--prot', '1'] })).toThrow('unknown flag --prot (see --help)');
    const required = { url: setting.url({ flag: 'url', env: 'URL', required: true, help: 'where' }) };
    expect(() => loadSettings(required, {})).toThrow('missing --url (URL): where');
    expect(() => loadSettings(required, { env: { URL: 'ftp://x' } })).toThrow(
      'invalid URL: "ftp://x" is not an absolute http(s) URL',
    );
    expect(loadSettings(required, { env: { URL: 'https://x:1/a/' } }).url).toBe('https://x:1/a');
  });

  it('rejects a value outside the choices', () => {
    expect(() => loadSettings(specs, { argv: ['--mode', 'c'] })).toThrow('invalid --mode: "c" is not one of a, b');
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadSettings(specs, {}))).toBe(true);
  });

  it('lists flags, variables and defaults in help, but not secret defaults', () => {
    const help = renderSettingsHelp(specs);
    expect(help).toContain('--port, PORT');
    expect(help).toContain('(default: 8761)');
    expect(help).toContain('--encrypt-key, ENCRYPT_KEY');
  });
});
