// Application names are compared (registry keys, per-app limits, load balancing), so they are upper-cased by ASCII
// alone: String.prototype.toUpperCase folds ſ (U+017F) to S and ı (U+0131) to I and expands ﬀ to FF, which would let
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
