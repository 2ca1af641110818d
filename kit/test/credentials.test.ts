import { describe, expect, it } from 'vitest';
import { credentialChallenge, parseCredential, presents } from '../src/credentials.ts';

describe('credentialChallenge', () => {
  it("challenges in the caller's realm with the configured scheme", () => {
    expect(credentialChallenge(parseCredential('basic:admin:pw'), 'trellis-gateway')).toBe(
      'Basic realm="trellis-gateway", charset="UTF-8"',
    );
    expect(credentialChallenge(parseCredential('bearer:t0k'), 'trellis-gateway')).toBe(
      'Bearer realm="trellis-gateway"',
    );
  });
});

describe('presents', () => {
  it('accepts exactly the configured credential', () => {
    const admin = parseCredential('basic:admin:p:w');
    expect(presents(admin, `Basic ${Buffer.from('admin:p:w').toString('base64')}`)).toBe(true);
    expect(presents(admin, `Basic ${Buffer.from('admin:p').toString('base64')}`)).toBe(false);
    expect(presents(parseCredential('bearer:t0k'), 'Bearer t0k')).toBe(true);
  });
});
