// V8 flags a component runs best with, applied by restarting the process image in place (same PID) before it starts.

/**
 * The auth server's young generation, capped at 16 MB semi-spaces. Node 24 lets them grow to 32 MB (64 MB in
 * all) under load; oidc-provider and koa make a great deal of short-lived garbage per token, so the server held about
 * 345 MB after a token burst against 240 MB with the cap, at the same CPU per token within the noise (bench/README.md,
 * Memory). 8 MB saved nothing more and cost CPU.
 */
export const AUTH_SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/** A flag's name: `--max-semi-space-size=16` → `--max-semi-space-size`. */
const flagName = (flag: string): string => flag.split('=')[0] ?? flag;

/** The flags this process lacks: neither on its command line nor in NODE_OPTIONS (a user's own value wins). */
export function missingNodeFlags(
  flags: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  execArgv: readonly string[] = process.execArgv,
): string[] {
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].map(flagName);
  return flags.filter((flag) => !given.includes(flagName(flag)));
}

/**
 * Restarts this process with `flags` added, unless it has them already or TRELLIS_NODE_FLAGS=off: process.execve
 * replaces the process image, so the PID (PID 1 in a container), its parent and its open stdio stay; nothing of the
 * first image runs on. Answers false when nothing was done; otherwise it does not return.
 */
export function restartWithNodeFlags(
  flags: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  const missing = missingNodeFlags(flags, env);
  if (missing.length === 0 || env.TRELLIS_NODE_FLAGS === 'off' || typeof process.execve !== 'function') return false;
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
    // The environment as the process has it, not only what `env` shows: execve passes it on whole.
    process.env,
  );
  return true;
}
