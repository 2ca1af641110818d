import { describe, expect, it } from 'vitest';
import { loadSettings, renderSettingsHelp, setting, SettingsError, splitFlags } from '../src/settings.ts';

const specs = {
  port: setting.port({ flag: 'port', env: 'PORT', default: 8761, help: 'HTTP port' }),
  dataDir: setting.string({ flag: 'data-dir', env: ['TRELLIS_DATA_DIR', 'DATA_DIR'], default: './data', help: 'data' }),
  peers: setting.list({ flag: 'peers', env: 'PEERS', default: [], help: 'peers' }),
  key: setting.string({ flag: 'encrypt-key', env: 'ENCRYPT_KEY', secret: true, help: 'key' }),
  strong: setting.boolean({ flag: 'strong', env: 'STRONG', default: false, help: 'strong' }),
  seed: setting.boolean({ flag: 'seed', env: 'SEED', default: true, help: 'seed' }),
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

  it('shows a switch with both of its forms and its default', () => {
    expect(renderSettingsHelp(specs)).toMatch(/--\[no-\]seed, SEED +seed \(default: true\)/);
  });
});

describe('loadSettings: switches', () => {
  const read = (argv: string[], env: Record<string, string> = {}) => loadSettings(specs, { argv, env });

  it.each([
    [['--strong'], true],
    [['--strong=true'], true],
    [['--strong', 'true'], true],
    [['--strong=yes'], true],
    [['--strong', '1'], true],
    [['--no-strong'], false],
    [['--strong=false'], false],
    [['--strong', 'false'], false],
    [['--strong', 'no'], false],
    [['--strong=0'], false],
    [['--strong', 'OFF'], false],
  ])('turns a switch that defaults off on and off: %j → %s', (argv, value) => {
    expect(read(argv, { STRONG: String(!value) }).strong).toBe(value);
  });

  it.each([
    [['--seed'], true],
    [['--seed=true'], true],
    [['--seed', 'true'], true],
    [['--no-seed'], false],
    [['--seed=false'], false],
    [['--seed', 'false'], false],
  ])('turns a switch that defaults on on and off, over its variable: %j → %s', (argv, value) => {
    expect(read(argv, { SEED: String(!value) }).seed).toBe(value);
  });

  it('reads the variable with the same words as the flag', () => {
    expect(read([], { SEED: 'no' }).seed).toBe(false);
    expect(read([], { STRONG: 'on' }).strong).toBe(true);
  });

  it('reads a bare switch followed by another flag as on, and the last of repeated forms', () => {
    const s = read(['--strong', '--port', '1', '--seed', '--no-seed']);
    expect([s.strong, s.port, s.seed]).toEqual([true, 1, false]);
  });

  it('refuses a value a switch does not take, naming the flag and the accepted words', () => {
    const accepted = 'true or false (also yes/no, on/off, 1/0)';
    expect(() => read(['--strong=maybe'])).toThrow(new SettingsError(`invalid --strong: "maybe" is not ${accepted}`));
    expect(() => read(['--seed', 'maybe'])).toThrow(new SettingsError(`invalid --seed: "maybe" is not ${accepted}`));
    expect(() => read([], { SEED: 'maybe' })).toThrow(new SettingsError(`invalid SEED: "maybe" is not ${accepted}`));
  });

  it('refuses --no- on a flag that is not a switch, and a value after --no-', () => {
    expect(() => read(['--no-port'])).toThrow(
      new SettingsError(
        '--no-port is refused: --port takes a value, not on or off: a port number (0-65535, 0 picks a free port)',
      ),
    );
    expect(() => read(['--no-seed=false'])).toThrow(
      new SettingsError('--no-seed takes no value: write --no-seed, or --seed=true or false'),
    );
    expect(() => read(['--no-such'])).toThrow(new SettingsError('unknown flag --no-such (see --help)'));
  });

  it('refuses a missing value, a stray word and a short flag as before', () => {
    expect(() => read(['--port'])).toThrow(new SettingsError('flag --port needs a value'));
    expect(() => read(['--data-dir', '--port', '1'])).toThrow(new SettingsError('flag --data-dir needs a value'));
    expect(() => read(['--port', '1', 'extra'])).toThrow(new SettingsError('unexpected argument extra (see --help)'));
    expect(() => read(['-p', '1'])).toThrow(new SettingsError('unknown flag -p (see --help)'));
    expect(read(['--data-dir=a=b']).dataDir).toBe('a=b');
  });
});

describe('splitFlags', () => {
  const own = { port: specs.port, strong: specs.strong };
  const auth = { seed: specs.seed, port: specs.port };
  const gateway = { mode: specs.mode, port: specs.port };

  it('hands each flag, in any form, to the one set that declares it', () => {
    expect(
      splitFlags(['--no-seed', '--mode', 'b', '--strong', 'false'], {
        own,
        auth: { seed: specs.seed },
        gateway: { mode: specs.mode },
      }),
    ).toEqual({
      own: ['--strong=false'],
      auth: ['--seed=false'],
      gateway: ['--mode=b'],
    });
  });

  it('refuses a flag several sets declare, naming them, and an unknown flag', () => {
    expect(() => splitFlags(['--port', '1'], { auth, gateway })).toThrow(
      new SettingsError('--port belongs to auth, gateway alike, so it cannot be given here: see --help'),
    );
    const authPort = setting.port({ flag: 'port', env: 'AUTH_PORT', help: 'auth port' });
    expect(() => splitFlags(['--port', '1'], { auth: { port: authPort }, gateway })).toThrow(
      new SettingsError(
        '--port belongs to auth (AUTH_PORT), gateway (PORT) alike, so it cannot be given here: set the one meant by its variable',
      ),
    );
    expect(() => splitFlags(['--nope'], { auth, gateway })).toThrow(
      new SettingsError('unknown flag --nope (see --help)'),
    );
    expect(() => splitFlags(['--seed=maybe'], { auth })).toThrow(/^invalid --seed: "maybe" is not true or false/);
  });
});
