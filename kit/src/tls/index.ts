// @trellis/kit/tls: HTTPS out of the box, from a local development CA or the user's own certificate.
export { ensureDevCertificates, DEV_FILES } from './dev-ca.ts';
export type { DevCertificateOptions } from './dev-ca.ts';
export { loadUserCertificate } from './user-certificate.ts';
export type { UserCertificateOptions } from './user-certificate.ts';
export { TlsError } from './errors.ts';
export type { TlsErrorCode, TlsErrorOptions } from './errors.ts';
export type { DevTlsMaterial, TlsLogger, TlsMaterial } from './types.ts';
export { serverTls, tlsSettings } from './server-tls.ts';
export type { ServerTlsOptions } from './server-tls.ts';
