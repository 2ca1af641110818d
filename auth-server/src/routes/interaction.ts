// The sign-in and consent pages oidc-provider sends a browser to (`/oauth2/interaction/:uid`).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { documented, type KitEnv, type OpenApiOperation, type TrustedProxies } from '@trellis/kit';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { pinToIssuer, type ProviderHolder } from '../oidc/mount.ts';
import { addressKey, sourceAddress } from '../oidc/proxies.ts';
import type { AuthServerMetrics } from '../metrics.ts';
import { admitAll, FailureThrottle, tooManyAttempts } from '../oidc/throttle.ts';
import type { UserStore } from '../users/store.ts';
import { consentPage, loginPage, messagePage } from '../views/page-templates.ts';

export interface InteractionDeps {
  readonly holder: ProviderHolder;
  readonly users: UserStore;
  /** Keys the CSRF tokens: HMAC of the interaction id, which oidc-provider already binds to a browser cookie. */
  readonly csrfKey: Buffer;
  readonly proxies: TrustedProxies | undefined;
  /** Limits password guessing per username and source address (never the user's own sign-in elsewhere). */
  readonly throttle: FailureThrottle;
  /**
   * Limits failed sign-ins per source address across all usernames (one password sprayed over many names); keyed by
   * the source alone, and successes do not clear it.
   */
  readonly sourceThrottle: FailureThrottle;
  /** Counts refused sign-ins; undefined with metrics off. */
  readonly metrics?: AuthServerMetrics | undefined;
}

interface Node {
  readonly provider: Provider;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

function nodeOf(c: Context<KitEnv>, holder: ProviderHolder, proxies: TrustedProxies | undefined): Node | undefined {
  const env: Partial<KitEnv['Bindings']> | undefined = c.env;
  const provider = holder.current;
  if (env?.incoming === undefined || env.outgoing === undefined || provider === undefined) return undefined;
  // The provider redirects and sets cookies from here too: it must see the issuer's origin, not the caller's Host.
  pinToIssuer(env.incoming, provider, proxies);
  return { provider, req: env.incoming, res: env.outgoing };
}

const PAGE = { 'text/html': { schema: { type: 'string' } } } as const;
const page = (description: string) => ({ description, content: PAGE });

/** A sign-in page's operation; the pages are for a browser holding the interaction cookie of `uid`. */
function pageOperation(summary: string, fields: Record<string, string> | undefined, ok: object): OpenApiOperation {
  return {
    summary,
    tags: ['sign-in pages'],
    ...(fields === undefined
      ? {}
      : {
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  required: ['csrf'],
                  properties: Object.fromEntries(
                    Object.entries(fields).map(([name, description]) => [name, { type: 'string', description }]),
                  ),
                },
              },
            },
          },
        }),
    responses: {
      ...ok,
      400: page('expired, another browser’s, or a form that cannot be read'),
      ...(fields === undefined ? {} : { 403: page('the form’s CSRF token is missing or wrong') }),
      503: page('the provider is not ready'),
    },
  };
}

/**
 * The login and consent pages oidc-provider redirects to (`/oauth2/interaction/:uid`). Server-rendered HTML, one
 * form per action, each carrying a CSRF token; the interaction cookie set by oidc-provider ties the uid to the
 * browser that started the authorization request.
 */
export function interactionRoutes(deps: InteractionDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const csrfFor = (uid: string): string => createHmac('sha256', deps.csrfKey).update(uid).digest('base64url');
  const csrfValid = (uid: string, presented: unknown): boolean => {
    if (typeof presented !== 'string') return false;
    const expected = Buffer.from(csrfFor(uid));
    const actual = Buffer.from(presented);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };
  // The page headers are set for every HTML answer in one place (views/page-headers.ts).
  const html = (c: Context<KitEnv>, body: string, status: 200 | 400 | 401 | 403 | 429 | 503 = 200): Response =>
    c.html(body, status);
  const expired = (c: Context<KitEnv>): Response =>
    html(
      c,
      messagePage(
        'Sign-in expired',
        'This sign-in page has expired or was opened in another browser. Go back to the application and start again.',
      ),
      400,
    );

  /** The interaction for this browser, if it is the one in the URL. */
  async function details(c: Context<KitEnv>, node: Node): Promise<Interaction | undefined> {
    try {
      const interaction = await node.provider.interactionDetails(node.req, node.res);
      return interaction.uid === c.req.param('uid') ? interaction : undefined;
    } catch (err) {
      c.var.log.info({ err: { message: err instanceof Error ? err.message : 'error' } }, 'interaction not found');
      return undefined;
    }
  }

  /**
   * What every form post of the interaction pages checks first: the provider is up, the interaction is this browser's
   * and the one in the URL, and the form carries its CSRF token. Answers the refusal page otherwise.
   */
  async function postedForm(
    c: Context<KitEnv>,
  ): Promise<Response | { node: Node; form: Record<string, unknown>; interaction: Interaction }> {
    const node = nodeOf(c, deps.holder, deps.proxies);
    if (node === undefined) return html(c, messagePage('Unavailable', 'Try again shortly.'), 503);
    let form: Record<string, unknown>;
    try {
      form = await c.req.parseBody();
    } catch {
      // A malformed multipart body: refused like a forged form, not a 500.
      return html(c, messagePage('Request refused', 'The form could not be read. Reload the page and try again.'), 400);
    }
    const interaction = await details(c, node);
    if (interaction === undefined) return expired(c);
    if (!csrfValid(interaction.uid, form.csrf)) {
      return html(c, messagePage('Request refused', 'The form was not sent by this page. Reload and try again.'), 403);
    }
    return { node, form, interaction };
  }

  async function clientName(provider: Provider, interaction: Interaction): Promise<string> {
    const id = typeof interaction.params.client_id === 'string' ? interaction.params.client_id : '';
    const client = await provider.Client.find(id);
    return client?.clientName ?? id;
  }

  async function renderLogin(
    c: Context<KitEnv>,
    node: Node,
    interaction: Interaction,
    extra: { username?: string; error?: string } = {},
  ): Promise<Response> {
    return html(
      c,
      loginPage({
        action: `${c.req.path.replace(/\/(login|confirm|abort)$/, '')}/login`,
        csrfToken: csrfFor(interaction.uid),
        clientName: await clientName(node.provider, interaction),
        ...extra,
      }),
      extra.error === undefined ? 200 : 401,
    );
  }

  app.get(
    '/:uid',
    documented(
      pageOperation('The login or the consent page of a sign-in', undefined, { 200: page('the form') }),
      async (c) => {
        const node = nodeOf(c, deps.holder, deps.proxies);
        if (node === undefined) return html(c, messagePage('Unavailable', 'Try again shortly.'), 503);
        const interaction = await details(c, node);
        if (interaction === undefined) return expired(c);
        if (interaction.prompt.name === 'login') return renderLogin(c, node, interaction);
        // Everything the client asks for, not only what is not granted yet: prompt=consent asks again for all of it.
        const requested = typeof interaction.params.scope === 'string' ? interaction.params.scope.split(' ') : [];
        const d = interaction.prompt.details;
        const scopes = [
          ...requested.filter((s) => s !== '' && s !== 'openid'),
          ...(d.missingOIDCScope ?? []).filter((s) => s !== 'openid'),
          ...Object.values(d.missingResourceScopes ?? {}).flat(),
        ];
        return html(
          c,
          consentPage({
            action: `${c.req.path}/confirm`,
            abortAction: `${c.req.path}/abort`,
            csrfToken: csrfFor(interaction.uid),
            clientName: await clientName(node.provider, interaction),
            username: interaction.session?.accountId ?? '',
            scopes: [...new Set(scopes)],
          }),
        );
      },
    ),
  );

  app.post(
    '/:uid/login',
    documented(
      pageOperation(
        'The login form’s target',
        { csrf: 'the page’s token', username: 'the username', password: 'the password' },
        {
          303: { description: 'on to consent or back to the client' },
          401: page('the form again: wrong username or password'),
          429: page('too many failed sign-ins from this address (Retry-After)'),
        },
      ),
      async (c) => {
        const posted = await postedForm(c);
        if (posted instanceof Response) return posted;
        const { node, form, interaction } = posted;
        if (interaction.prompt.name !== 'login') return expired(c);
        const username = typeof form.username === 'string' ? form.username : '';
        const password = typeof form.password === 'string' ? form.password : '';
        const source = addressKey(sourceAddress(node.req, deps.proxies));
        // Cut to the longest valid username so that a huge field cannot make a huge throttle entry.
        const key = FailureThrottle.key(username.slice(0, 128), source);
        // Admitted (and counted as in flight) before the password hash is checked, so parallel guesses are refused too.
        const attempt = await admitAll([deps.sourceThrottle, source], [deps.throttle, key]);
        if (attempt.refused) {
          c.header('retry-after', String(attempt.retryAfterSec));
          deps.metrics?.signInFailed('throttled');
          c.var.log.info({ retryAfterSec: attempt.retryAfterSec }, 'sign-in refused: too many failed attempts');
          const reason = `Sign-in refused: ${tooManyAttempts(attempt.retryAfterSec)}.`;
          return html(c, messagePage('Too many attempts', reason), 429);
        }
        let accountId: string | undefined;
        try {
          accountId = await deps.users.authenticate(username, password);
        } finally {
          // A check that throws counts as a failure: an attempt left in flight would hold its slot for good.
          if (accountId === undefined) attempt.failed();
          else attempt.succeeded();
        }
        if (accountId === undefined) {
          deps.metrics?.signInFailed('bad_credentials');
          // Only a username that exists: people type their password into the username field, and that is no name to log.
          c.var.log.info(
            (await deps.users.find(username)) === undefined ? { unknownUser: true } : { username },
            'sign-in refused',
          );
          return renderLogin(c, node, interaction, { username, error: 'Wrong username or password.' });
        }
        await node.provider.interactionFinished(
          node.req,
          node.res,
          { login: { accountId } },
          { mergeWithLastSubmission: false },
        );
        return RESPONSE_ALREADY_SENT;
      },
    ),
  );

  app.post(
    '/:uid/confirm',
    documented(
      pageOperation(
        'The consent form’s target: grants what the client asked for',
        { csrf: 'the page’s token' },
        { 303: { description: 'back to the client' } },
      ),
      async (c) => {
        const posted = await postedForm(c);
        if (posted instanceof Response) return posted;
        const { node, interaction } = posted;
        const accountId = interaction.session?.accountId;
        const clientId = interaction.params.client_id;
        if (interaction.prompt.name !== 'consent' || accountId === undefined || typeof clientId !== 'string') {
          return expired(c);
        }
        const { Grant } = node.provider;
        const grant =
          (interaction.grantId === undefined ? undefined : await Grant.find(interaction.grantId)) ??
          new Grant({ accountId, clientId });
        const d = interaction.prompt.details;
        if (d.missingOIDCScope !== undefined) grant.addOIDCScope(d.missingOIDCScope.join(' '));
        if (d.missingOIDCClaims !== undefined) grant.addOIDCClaims(d.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
        const grantId = await grant.save();
        await node.provider.interactionFinished(
          node.req,
          node.res,
          { consent: interaction.grantId === undefined ? { grantId } : {} },
          { mergeWithLastSubmission: true },
        );
        return RESPONSE_ALREADY_SENT;
      },
    ),
  );

  app.post(
    '/:uid/abort',
    documented(
      pageOperation(
        'The consent page’s cancel: the client gets access_denied',
        { csrf: 'the page’s token' },
        { 303: { description: 'back to the client with access_denied' } },
      ),
      async (c) => {
        const posted = await postedForm(c);
        if (posted instanceof Response) return posted;
        const { node } = posted;
        await node.provider.interactionFinished(
          node.req,
          node.res,
          { error: 'access_denied', error_description: 'the user denied the request' },
          { mergeWithLastSubmission: false },
        );
        return RESPONSE_ALREADY_SENT;
      },
    ),
  );

  return app;
}
