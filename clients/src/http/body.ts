// Reading a whole answer as text, gunzipped when the server compressed it (clients ask registries for gzip).
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Dispatcher } from 'undici';

const gunzipAsync = promisify(gunzip);

/** The answer's body as UTF-8 text; a `Content-Encoding: gzip` body is gunzipped first. */
export async function readText(res: Dispatcher.ResponseData): Promise<string> {
  const raw = Buffer.from(await res.body.arrayBuffer());
  const encoding = res.headers['content-encoding'];
  return encoding === 'gzip' ? (await gunzipAsync(raw)).toString('utf8') : raw.toString('utf8');
}
