// The shapes TLS material is handed around in: PEM text with the files it came from.
/** PEM text and the files it came from, ready for `https.createServer({ cert, key })` and for clients' `ca`. */
export interface TlsMaterial {
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate chain as PEM: the leaf first, then any intermediates the user's file carried. */
  readonly cert: string;
  /** The private key as PEM. Never log it. */
  readonly key: string;
  /** Absent for a user certificate given without a CA file (one from a public CA that clients already trust). */
  readonly caFile?: string;
  readonly ca?: string;
  /** True when this call wrote new files (a new CA or a new server certificate). */
  readonly created: boolean;
}

/** What `ensureDevCertificates` returns: the development CA is always there, so it is never optional. */
export interface DevTlsMaterial extends TlsMaterial {
  readonly caFile: string;
  readonly ca: string;
}

/**
 * The slice of a pino logger this module uses; a root or child pino logger fits. Only file paths and reasons are
 * logged, never PEM text.
 */
export interface TlsLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info?(obj: Record<string, unknown>, msg: string): void;
}
