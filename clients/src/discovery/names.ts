// Application names: how they are upper-cased, and which URL hosts name an application rather than a machine.
// Names are compared (registry keys, per-app limits, load balancing), so they are upper-cased by ASCII alone:
// String.prototype.toUpperCase folds ſ (U+017F) to S and ı (U+0131) to I and expands ﬀ to FF, which would let
// "product-compoſite" stand for PRODUCT-COMPOSITE.

/**
 * Upper-cases ASCII letters only; every other character is left as it is.
 *
 * @example
 * asciiUpperCase('review-ſ') // 'REVIEW-ſ'
 */
export function asciiUpperCase(value: string): string {
  return /[a-z]/.test(value) ? value.replace(/[a-z]+/g, (letters) => letters.toUpperCase()) : value;
}

/**
 * Whether a URL host names an application rather than a machine: a bare name without a dot or a port, and not
 * `localhost` (Spring's `lb://` needs a scheme of its own; here the host's shape decides).
 *
 * @example
 * isApplicationHost(new URL('http://review/review?productId=1')); // true
 * isApplicationHost(new URL('http://localhost:7003/review')); // false
 */
export function isApplicationHost(url: URL): boolean {
  const host = url.hostname;
  return url.port === '' && host !== 'localhost' && !host.includes('.') && !host.startsWith('[') && host !== '';
}
