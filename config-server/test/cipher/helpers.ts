import { expect } from 'vitest';
import { CipherError } from '../../src/cipher/index.ts';
import type { CipherErrorCode } from '../../src/cipher/index.ts';

/** Runs fn, asserts it throws a CipherError with this code, and returns the error for further checks. */
export function expectCipherError(fn: () => unknown, code: CipherErrorCode): CipherError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(CipherError);
  expect((thrown as CipherError).code).toBe(code);
  return thrown as CipherError;
}
