// The @trellis/auth-server package: the component, its settings, and the functions `trellis clients|users` call.
export { authServerComponent, resourceIndicator } from './main.ts';
export { authServerSettings, checkConfig, loadConfig } from './config.ts';
export type { AuthServerSettings, Config } from './config.ts';
export {
  addClient,
  addUser,
  listClients,
  listKeys,
  listUsers,
  removeClient,
  removeUser,
  rotateKeys,
  rotateSecret,
  showClient,
} from './manage.ts';
export type { DataDirOptions } from './data-dir.ts';
export type {
  AuthMethod,
  ClientInput,
  ClientMetadata,
  ClientView,
  CreatedClient,
  GrantType,
  Registration,
} from './oauth-clients/store.ts';
export type { UserInput, UserView } from './users/store.ts';
export type { SigningAlg, SigningKeyInfo } from './crypto/signing-keys.ts';
export type { OidcStorage } from './store/oidc-storage.ts';
export { AuthServerError } from './errors.ts';
export type { AuthServerErrorCode } from './errors.ts';
