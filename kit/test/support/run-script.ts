// A snippet of ES module code run in a fresh Node process (TypeScript imports through tsx): for what one process
// cannot show, such as several processes racing for one file or which modules an import loads.
import { execFile } from 'node:child_process';

/** Resolves with what the script wrote to stdout; rejects with its stderr when it exits non-zero. */
export function runScript(script: string, options: { cwd?: URL | string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', ...(options.cwd === undefined ? {} : { cwd: options.cwd }) },
      (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(stderr || err.message))),
    );
  });
}
