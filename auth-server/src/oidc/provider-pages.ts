// The pages oidc-provider renders through its hooks (device flow, logout), in the look of the sign-in pages.
import { deviceConfirmPage, deviceDonePage, loggedOutPage, logoutPage, userCodePage } from '../views/page-templates.ts';

/** The part of Koa's context the page hooks use. */
interface PageContext {
  type: string;
  body: unknown;
  readonly cookies: { get(name: string): string | undefined };
  readonly oidc: {
    readonly provider: { cookieName(name: string): string };
    readonly client?: { readonly clientId: string; readonly clientName?: string } | undefined;
  };
}

/** The page headers come with every HTML answer (views/page-headers.ts). */
function render(ctx: PageContext, html: string): void {
  ctx.type = 'html';
  ctx.body = html;
}

const nameOf = (ctx: PageContext): string | undefined => ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;

/** Why a user code was refused, in words a user can act on (by the name of oidc-provider's re-render error). */
const USER_CODE_ERRORS: Readonly<Record<string, string>> = {
  NoCodeError: 'Enter the code your device shows.',
  NotFoundError: 'That code is not valid. Check the code on your device and try again.',
  ExpiredError: 'That code has expired. Start again on your device to get a new one.',
  AlreadyUsedError: 'That code was already used. Start again on your device to get a new one.',
  AbortedError: 'The sign-in was cancelled. Start again on your device to get a new code.',
};

/** What the code page gets when it is re-rendered after an error (oidc-provider's error, or our throttle's 429). */
interface UserCodeFailure {
  readonly name?: string;
  readonly statusCode?: number;
  readonly error_description?: string;
}

function userCodeError(err: UserCodeFailure | undefined): string | undefined {
  if (err === undefined) return undefined;
  // Too many wrong codes from this source (provider.ts): say how long to wait, not that the code was wrong.
  if (err.statusCode === 429) return `Code refused: ${err.error_description ?? 'too many failed attempts'}.`;
  return USER_CODE_ERRORS[err.name ?? ''] ?? 'The code could not be checked. Try again.';
}

/**
 * The device flow's and logout's pages in the look of the login and consent pages, with nothing loaded from outside (oidc-provider's defaults import web fonts from Google).
 */
export const providerPages = {
  deviceFlow: {
    userCodeInputSource(ctx: PageContext, form: string, _out: unknown, err?: UserCodeFailure) {
      const error = userCodeError(err);
      render(ctx, userCodePage(error === undefined ? { form } : { form, error }));
    },
    userCodeConfirmSource(ctx: PageContext, form: string, _client: unknown, _deviceInfo: unknown, userCode: string) {
      render(ctx, deviceConfirmPage({ form, clientName: nameOf(ctx) ?? '', userCode }));
    },
    successSource(ctx: PageContext) {
      render(ctx, deviceDonePage(nameOf(ctx) ?? 'Your device'));
    },
  },
  rpInitiatedLogout: {
    logoutSource(ctx: PageContext, form: string) {
      render(ctx, logoutPage(form));
    },
    postLogoutSuccessSource(ctx: PageContext) {
      // A confirmed logout clears the session cookie; "stay signed in" keeps it and ends only the client's part.
      const session = ctx.cookies.get(ctx.oidc.provider.cookieName('session'));
      render(ctx, loggedOutPage({ signedOut: session === undefined, clientName: nameOf(ctx) }));
    },
  },
};
