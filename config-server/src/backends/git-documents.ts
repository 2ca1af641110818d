// The config files a git backend serves, parsed once per blob, and the ones that do not parse (for health).
import type { Logger } from '@trellis/kit';
import { ConfigFileError, parseConfigFile, type ConfigDocument } from '../environment/index.ts';
import type { GitMirror } from './git-mirror.ts';
import { Lru } from './lru.ts';

/** A file at a commit: its path and the id of its content. */
export interface BlobFile {
  readonly path: string;
  readonly blob: string;
}

export interface ParsedFile {
  readonly path: string;
  readonly documents: readonly ConfigDocument[];
}

interface ParsedBlob {
  readonly documents?: readonly ConfigDocument[];
  readonly error?: string;
}

// Enough for the files of many labels; a blob id names its content, so an entry never goes stale.
const MAX_PARSED = 2000;

/** Parsed blobs by id, and the files that did not parse by label and path (reset when a path parses again). */
export class BlobDocuments {
  readonly #parsed = new Lru<string, ParsedBlob>(MAX_PARSED);
  readonly #broken = new Map<string, string>();

  constructor(private readonly logger: Logger | undefined) {}

  /** The files that parse, in the given order, their blobs read from `mirror` in one run when not cached. */
  async read(mirror: Pick<GitMirror, 'blobs'>, label: string, files: readonly BlobFile[]): Promise<ParsedFile[]> {
    const missing = [...new Set(files.filter((f) => this.#parsed.get(f.blob) === undefined).map((f) => f.blob))];
    const contents = await mirror.blobs(missing);
    const parsed: ParsedFile[] = [];
    for (const { path, blob } of files) {
      let entry = this.#parsed.get(blob);
      if (entry === undefined) {
        entry = this.#parse(path, contents.get(blob));
        this.#parsed.set(blob, entry);
      }
      if (entry.error !== undefined) {
        this.#broken.set(`${label}:${path}`, entry.error);
        continue;
      }
      this.#broken.delete(`${label}:${path}`);
      parsed.push({ path, documents: entry.documents ?? [] });
    }
    return parsed;
  }

  /** `label:path` and why, for every file last seen not parsing. */
  broken(): { file: string; reason: string }[] {
    return [...this.#broken].map(([file, reason]) => ({ file, reason }));
  }

  #parse(path: string, content: Buffer | undefined): ParsedBlob {
    if (content === undefined) return { error: 'object missing from the repository' };
    try {
      return { documents: parseConfigFile(path, content.toString('utf8')) };
    } catch (err) {
      // Only our own parser messages are kept: they name a line, never quote the file (which may hold secrets).
      const reason = err instanceof ConfigFileError ? err.message : 'unreadable';
      this.logger?.warn({ file: path, reason }, 'config file skipped: it does not parse');
      return { error: reason };
    }
  }
}
