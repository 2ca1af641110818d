// The settings both guarded bench servers take from the security scenario: the JWKS to serve, and the issuer and
// audience the guard checks.
export function guardEnv(server: string): { jwks: string; issuer: string; audience: string } {
  const jwks = process.env.BENCH_JWKS ?? '';
  const issuer = process.env.BENCH_ISSUER ?? '';
  const audience = process.env.BENCH_AUDIENCE ?? '';
  if (jwks === '' || issuer === '' || audience === '') {
    process.stderr.write(`${server}: BENCH_JWKS, BENCH_ISSUER and BENCH_AUDIENCE are required\n`);
    process.exit(2);
  }
  return { jwks, issuer, audience };
}
