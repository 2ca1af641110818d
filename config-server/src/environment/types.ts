// The environment model's types: property values and sources, Spring's Environment, and a client's request.

/** A property value as a source holds it: YAML keeps numbers and booleans, `.properties` only has text. */
export type PropertyValue = string | number | boolean;

/** One named source of properties, most specific first in an environment (Spring's `PropertySource`). */
export interface PropertySource {
  /** Spring's naming (`file:config-repo/product-docker.yml`): the Spring client finds profile sources by this name. */
  readonly name: string;
  readonly source: Readonly<Record<string, PropertyValue>>;
  /** Where each value came from, for the v2 media type (`file [config-repo/a.yml] - 3:7`). */
  readonly origins?: Readonly<Record<string, string>>;
  /** Keys whose value was a `{cipher}` value and is now served decrypted; never part of Spring's JSON. */
  readonly decrypted?: readonly string[];
  /** What the backend read this source from, so access is decided on the document and not the URL; never served. */
  readonly document?: DocumentRef;
}

/**
 * The document behind a property source or plain file: a path relative to the repository root (native, git), or the
 * APPLICATION column its rows are stored under (SQLite).
 */
export type DocumentRef = { readonly file: string } | { readonly application: string };

/** Spring's `Environment`: what `GET /{name}/{profiles}[/{label}]` answers. */
export interface Environment {
  readonly name: string;
  readonly profiles: readonly string[];
  readonly label: string | null;
  readonly version: string | null;
  readonly state: string | null;
  readonly propertySources: readonly PropertySource[];
}

/** What a client asked for, already validated and with `(_)` turned into `/`. */
export interface EnvironmentRequest {
  /** One or more application names (Spring accepts `a,b`; the later one wins). */
  readonly applications: readonly string[];
  readonly profiles: readonly string[];
  /** Undefined when the client named no label: the backend's default applies. */
  readonly label?: string;
}
