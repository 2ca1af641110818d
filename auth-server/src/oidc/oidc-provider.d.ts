// Type declarations for the part of oidc-provider 9 Trellis uses (the package ships none).
// @types/oidc-provider is not a dependency yet; these follow its documentation (docs/README.md) and lib/provider.js.
declare module 'oidc-provider' {
  import type { KeyObject } from 'node:crypto';
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface AdapterPayload {
    readonly [key: string]: unknown;
    readonly grantId?: string;
    readonly userCode?: string;
    readonly uid?: string;
    readonly consumed?: unknown;
  }

  /** One instance per model name (`new Adapter('AccessToken')`); every method may be async. */
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export type AdapterConstructor = new (name: string) => Adapter;

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): Promise<Record<string, unknown>> | Record<string, unknown>;
  }

  export interface InteractionPrompt {
    readonly name: string;
    readonly reasons: readonly string[];
    readonly details: {
      readonly missingOIDCScope?: readonly string[];
      readonly missingOIDCClaims?: readonly string[];
      readonly missingResourceScopes?: Readonly<Record<string, readonly string[]>>;
      readonly [key: string]: unknown;
    };
  }

  export interface Interaction {
    readonly uid: string;
    readonly prompt: InteractionPrompt;
    readonly params: Readonly<Record<string, unknown>>;
    readonly session?: { readonly accountId: string; readonly uid: string } | undefined;
    readonly grantId?: string | undefined;
  }

  export type InteractionResults =
    | { login: { accountId: string; remember?: boolean } }
    | { consent: { grantId?: string } }
    | { error: string; error_description?: string };

  export class Grant {
    constructor(properties: { accountId: string; clientId: string });
    readonly accountId?: string;
    readonly clientId?: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: readonly string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantStatic {
    new (properties: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  /** A registered client as the provider sees it; `clientSecret` holds what the Client adapter returned. */
  export interface ClientInstance {
    readonly clientId: string;
    readonly clientSecret?: string;
    readonly clientName?: string;
    readonly scope?: string;
    compareClientSecret(actual: string): boolean | Promise<boolean>;
  }

  export interface ClientStatic {
    readonly prototype: ClientInstance;
    find(id: string): Promise<ClientInstance | undefined>;
    /** Throws the provider's InvalidClientMetadata / InvalidRedirectUri when it would refuse these metadata. */
    validate(metadata: AdapterPayload): Promise<void>;
  }

  export interface DeviceCodeStatic {
    /** The device code a user typed in, or undefined when none matches (expired ones too with ignoreExpiration). */
    findByUserCode(userCode: string, options?: { ignoreExpiration?: boolean }): Promise<object | undefined>;
  }

  /** The part of Koa's context a pre/post middleware (`provider.use`) reads. */
  export interface KoaMiddlewareContext {
    readonly path: string;
    readonly req: IncomingMessage;
    body: unknown;
    status: number;
    readonly method: string;
    set(headers: Record<string, string>): void;
    remove(header: string): void;
    redirect(url: string): void;
    readonly oidc?: {
      readonly route?: string;
      readonly client?: { readonly clientId: string; readonly clientAuthMethod: string } | undefined;
      readonly params?: Readonly<Record<string, unknown>> | undefined;
      urlFor(name: string): string;
    };
  }

  export interface KoaContextLike {
    readonly oidc?: {
      readonly route?: string;
      readonly client?: { readonly clientId: string };
      readonly params?: Record<string, unknown>;
    };
  }

  export type Configuration = Readonly<Record<string, unknown>>;

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    /** The Koa context of the request being served (an AsyncLocalStorage); undefined outside a request. */
    static readonly ctx: KoaMiddlewareContext | undefined;
    readonly issuer: string;
    proxy: boolean;
    readonly Grant: GrantStatic;
    readonly Client: ClientStatic;
    readonly DeviceCode: DeviceCodeStatic;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    /** Koa's own event (the provider is a Koa app): an error of a request, with its context. */
    on(event: 'error', listener: (err: Error, ctx?: KoaContextLike) => void): this;
    on(event: string, listener: (ctx: KoaContextLike, err?: unknown) => void): this;
    /** Adds a Koa middleware that runs around the provider's own routes. */
    use(middleware: (ctx: KoaMiddlewareContext, next: () => Promise<void>) => Promise<void>): this;
  }

  /**
   * A signing key whose private half the provider never sees (features.externalSigningSupport): it publishes
   * `keyObject()` and asks `sign` for each signature. kid and alg are set by the subclass.
   */
  export class ExternalSigningKey {
    kid: string;
    alg: string;
    readonly use: 'sig';
    keyObject(): KeyObject;
    sign(data: Buffer): Promise<Buffer>;
  }

  export const errors: {
    readonly InvalidTarget: new (description?: string) => Error;
    /** `status` defaults to 400. */
    readonly InvalidRequest: new (description?: string, status?: number) => Error;
    readonly InvalidGrant: new (description?: string) => Error;
  };
}
