// The HTML of every page the auth server shows (sign-in, consent, device flow, logout, messages).
/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem;font:inherit;cursor:pointer}
:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
.error{color:#a51d2d;border-left:4px solid #a51d2d;padding-left:.6rem}ul{padding-left:1.2rem}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body>
</html>`;
}

export interface LoginPageOptions {
  readonly action: string;
  readonly csrfToken: string;
  readonly clientName: string;
  readonly username?: string;
  readonly error?: string;
}

/** The sign-in form: labelled fields, the error announced to screen readers, Enter submits. */
export function loginPage(o: LoginPageOptions): string {
  const error =
    o.error === undefined ? '' : `<p class="error" role="alert" id="login-error">${escapeHtml(o.error)}</p>`;
  const described = o.error === undefined ? '' : ' aria-describedby="login-error"';
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(o.clientName)}</strong></p>
${error}
<form method="post" action="${escapeHtml(o.action)}" autocomplete="on">
<input type="hidden" name="csrf" value="${escapeHtml(o.csrfToken)}">
<label for="username">Username</label>
<input type="text" id="username" name="username" required autofocus autocomplete="username"${described} value="${escapeHtml(o.username ?? '')}">
<label for="password">Password</label>
<input type="password" id="password" name="password" required autocomplete="current-password"${described}>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${escapeHtml(o.action.replace(/\/login$/, '/abort'))}">
<input type="hidden" name="csrf" value="${escapeHtml(o.csrfToken)}">
<button type="submit">Cancel</button>
</form>`,
  );
}

export interface ConsentPageOptions {
  readonly action: string;
  readonly abortAction: string;
  readonly csrfToken: string;
  readonly clientName: string;
  readonly username: string;
  readonly scopes: readonly string[];
}

export function consentPage(o: ConsentPageOptions): string {
  const items = o.scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('');
  return page(
    'Authorize access',
    `<h1>Authorize ${escapeHtml(o.clientName)}</h1>
<p>Signed in as <strong>${escapeHtml(o.username)}</strong>. <strong>${escapeHtml(o.clientName)}</strong> asks for:</p>
<ul aria-label="requested permissions">${items || '<li>your identity</li>'}</ul>
<form method="post" action="${escapeHtml(o.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(o.csrfToken)}">
<button type="submit" autofocus>Allow</button>
</form>
<form method="post" action="${escapeHtml(o.abortAction)}">
<input type="hidden" name="csrf" value="${escapeHtml(o.csrfToken)}">
<button type="submit">Deny</button>
</form>`,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

/** Nothing loaded from anywhere, no script, never framed. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/**
 * Headers of every HTML answer of the auth server (see page-headers.ts, which sets them): never cached, never
 * framed, no referrer, no content sniffing, nothing loaded from anywhere.
 */
export const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // No form-action: browsers apply it to the redirects after a submit, which end at the client's redirect_uri.
  'content-security-policy': PAGE_CSP,
} as const;

export interface UserCodePageOptions {
  /** oidc-provider's form (id `op.deviceInputForm`, its CSRF field and the `user_code` input). */
  readonly form: string;
  readonly error?: string;
}

/**
 * Where the user types the code their device shows (RFC 8628 verification URI). The provider's form is embedded as
 * is, with an id on its input so the label names it, and without its inline script, which the page's CSP forbids.
 */
export function userCodePage(o: UserCodePageOptions): string {
  const form = o.form
    .replace(/\s+onfocus="[^"]*"/, '')
    .replace(
      'name="user_code"',
      `name="user_code" id="user_code" aria-describedby="code-help${o.error === undefined ? '' : ' code-error'}"`,
    );
  const error = o.error === undefined ? '' : `<p class="error" role="alert" id="code-error">${escapeHtml(o.error)}</p>`;
  return page(
    'Connect a device',
    `<h1>Connect a device</h1>
${error}
<label for="user_code">Code</label>
<p id="code-help">Enter the code your device shows, e.g. BCDF-GHJK.</p>
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

export interface DeviceConfirmPageOptions {
  /** oidc-provider's form (id `op.deviceConfirmForm`). */
  readonly form: string;
  readonly clientName: string;
  readonly userCode: string;
}

export function deviceConfirmPage(o: DeviceConfirmPageOptions): string {
  return page(
    'Confirm device',
    `<h1>Confirm device</h1>
<p><strong>${escapeHtml(o.clientName)}</strong> asks to sign in. Check that your device shows this code:</p>
<p><strong><code>${escapeHtml(o.userCode)}</code></strong></p>
<p>If it does not, or you did not start this, cancel.</p>
${o.form}
<button type="submit" form="op.deviceConfirmForm" autofocus>Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Cancel</button>`,
  );
}

export function deviceDonePage(clientName: string): string {
  return page(
    'Device signed in',
    `<h1>Device signed in</h1><p><strong>${escapeHtml(clientName)}</strong> is signed in. You can close this page and return to your device.</p>`,
  );
}

/** The sign-out question of RP-initiated logout; `form` is oidc-provider's (id `op.logoutForm`). */
export function logoutPage(form: string): string {
  return page(
    'Sign out',
    `<h1>Sign out</h1>
<p>Sign out of every application you signed in to here?</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in</button>`,
  );
}

/** After logout: `signedOut` says whether the browser's session ended, or only the one application's. */
export function loggedOutPage(o: { signedOut: boolean; clientName?: string | undefined }): string {
  if (o.signedOut) return messagePage('Signed out', 'You have signed out.');
  return messagePage(
    'Still signed in',
    o.clientName === undefined
      ? 'You are still signed in.'
      : `You have signed out of ${o.clientName} and are still signed in for other applications.`,
  );
}
