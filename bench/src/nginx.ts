// nginx as the native reference proxy: one worker, upstream keepalive, no access log, everything under one directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { own } from '@trellis/kit';

export const NGINX = '/usr/sbin/nginx';

/** A complete nginx.conf proxying every path on 127.0.0.1:`port` to 127.0.0.1:`upstreamPort`, files under `dir`. */
export function nginxConf(dir: string, port: number, upstreamPort: number): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  upstream baseline { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://baseline; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
}

/** Writes `nginxConf` to a file of its own under `dir` and answers its path; fails when nginx is not installed. */
export async function writeNginxConf(dir: string, port: number, upstreamPort: number): Promise<string> {
  if (!existsSync(NGINX)) throw new Error(`bench: ${NGINX} is missing (Debian package nginx)`);
  const conf = join(dir, `nginx-${port}.conf`);
  await writeFile(conf, nginxConf(dir, port, upstreamPort));
  return conf;
}

export interface Nginx {
  /** The master process (it forks the one worker). */
  readonly child: ChildProcess;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Writes the configuration into `dir` and spawns nginx in the foreground (`daemon off`), owned so that it dies with
 * the bench. Answers at once; the caller waits for its first answer. Fails with the package to install when nginx
 * is missing, rather than as a proxy that never answers.
 */
export async function spawnNginx(dir: string, port: number, upstreamPort: number): Promise<Nginx> {
  const conf = await writeNginxConf(dir, port, upstreamPort);
  const child = spawn(NGINX, ['-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  const stop = own(child);
  return { child, url: `http://127.0.0.1:${port}`, stop: () => stop() };
}
