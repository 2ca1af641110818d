import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { selectPkcs1v15Message } from '../../src/cipher/pkcs1.ts';

const K = 256;
const FALLBACK = Buffer.alloc(16, 0xee);
const MESSAGE = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

/** 00 02 PS 00 M with a non-zero random PS, as RSAES-PKCS1-v1_5 encodes. */
function wellFormed(message: Buffer = MESSAGE): Buffer {
  const ps = Buffer.from(randomBytes(K - 3 - message.length).map((b) => b | 0x01));
  return Buffer.concat([Buffer.from([0x00, 0x02]), ps, Buffer.from([0x00]), message]);
}

function mutate(block: Buffer, index: number, value: number): Buffer {
  const copy = Buffer.from(block);
  copy[index] = value;
  return copy;
}

describe('selectPkcs1v15Message (constant-time PKCS#1 v1.5 unpadding with implicit rejection)', () => {
  it('returns the 16-byte message of a well-formed block', () => {
    expect(selectPkcs1v15Message(wellFormed(), 16, FALLBACK)).toEqual(MESSAGE);
  });

  it('keeps a message that itself contains zero bytes', () => {
    const message = Buffer.alloc(16);
    expect(selectPkcs1v15Message(wellFormed(message), 16, FALLBACK)).toEqual(message);
  });

  const separator = K - 17;
  it.each([
    ['a non-zero first byte', (b: Buffer) => mutate(b, 0, 0x01)],
    ['block type 1 (signature padding)', (b: Buffer) => mutate(b, 1, 0x01)],
    ['block type 0', (b: Buffer) => mutate(b, 1, 0x00)],
    ['a zero byte early in the padding string (the message would be longer)', (b: Buffer) => mutate(b, 5, 0x00)],
    [
      'a zero byte right before the separator (the message would be 17 bytes)',
      (b: Buffer) => mutate(b, separator - 1, 0),
    ],
    ['a non-zero separator (the message would be shorter)', (b: Buffer) => mutate(b, separator, 0x42)],
    ['an all-zero block (RSA input was not below the modulus)', () => Buffer.alloc(K)],
  ])('returns the fallback for %s', (_name, corrupt) => {
    expect(selectPkcs1v15Message(corrupt(wellFormed()), 16, FALLBACK)).toEqual(FALLBACK);
  });

  it('returns the fallback for a well-formed block carrying a 15-byte message', () => {
    expect(selectPkcs1v15Message(wellFormed(MESSAGE.subarray(1)), 16, FALLBACK)).toEqual(FALLBACK);
  });

  it('refuses a block too small to hold 8 padding bytes (a public fact, so it may throw)', () => {
    expect(() => selectPkcs1v15Message(Buffer.alloc(26), 16, FALLBACK)).toThrow(RangeError);
  });

  it('returns fresh buffers, never the caller’s fallback', () => {
    const out = selectPkcs1v15Message(Buffer.alloc(K), 16, FALLBACK);
    out.fill(0);
    expect(FALLBACK[0]).toBe(0xee);
  });
});
