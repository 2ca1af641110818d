// What the cli tests share: an io that records what `trellis` prints and the exit codes it asks for.

/** Stands in for stdout, stderr and process.exit, keeping what they were given. */
export function capture() {
  let out = '';
  let err = '';
  const codes: number[] = [];
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    exit: (code: number) => void codes.push(code),
    out: () => out,
    err: () => err,
    codes,
  };
}
