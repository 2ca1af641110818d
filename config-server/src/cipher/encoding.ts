// Hex, base64 and UTF-8 decoders as strict as the Java classes Spring uses.
// A value Spring rejects is rejected here too (Node's Buffer.from(…, 'hex' | 'base64') silently skips bad
// characters, which would turn garbage into bytes).

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

// java.util.Base64.getDecoder(): standard alphabet, no whitespace, padding optional but never wrong.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

// fatal: a wrong key that slips past the AES padding check yields random bytes, which are almost never valid UTF-8;
// ignoreBOM: Java's new String(bytes, UTF_8) keeps a leading U+FEFF, so we do too.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Spring's `Hex.decode` accepts either case and needs an even length. ASCII digits only (see README notes). */
export function isHex(text: string): boolean {
  return HEX.test(text);
}

export function decodeHex(text: string): Buffer | undefined {
  return HEX.test(text) ? Buffer.from(text, 'hex') : undefined;
}

export function decodeBase64(text: string): Buffer | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}
