// What CALLBACK_DESTINATIONS_FILE says about one client's endpoint (a destination), once read
// and checked (file.ts): the headers, credentials, TLS material and limits the requests to
// its origins carry. The transport asks a DestinationLookup for the policy of each origin at
// each attempt, so a reloaded file applies to the next attempts. Secrets live only here and
// in the requests to the matching origins: nothing else prints a policy except redact.ts.

/** How requests to the destination authenticate: at most one kind per destination. */
export type DestinationAuth =
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | {
      readonly kind: 'oauth2_client_credentials'
      /** RFC 6749 §4.4 token endpoint (http(s) URL). */
      readonly tokenUrl: string
      readonly clientId: string
      readonly clientSecret: string
      readonly scope: string | undefined
      readonly audience: string | undefined
      readonly clientAuth: 'client_secret_basic' | 'client_secret_post'
    }

/** TLS for the destination's connections: files as named (for the admin view) and their contents (PEM), read at load. */
export interface DestinationTls {
  /** A private CA the destination's certificates are checked against. */
  readonly caFile: string | undefined
  readonly ca: Buffer | undefined
  /** Mutual TLS: the client certificate presented, with its key (both or neither). */
  readonly certFile: string | undefined
  readonly cert: Buffer | undefined
  readonly keyFile: string | undefined
  readonly key: Buffer | undefined
}

export interface DestinationPolicy {
  /**
   * The origin pattern as normalised from the file: an exact origin ("https://hooks.acme.example",
   * default port dropped), a wildcard host ("https://*.acme.example"), or "*". Its name in
   * logs, metrics and the admin API (never a secret).
   */
  readonly pattern: string
  /** Its place in the file's list (0-based). */
  readonly index: number
  /** Added to every request to it (names checked at load: none the contract reserves). */
  readonly headers: Readonly<Record<string, string>>
  readonly auth: DestinationAuth | undefined
  readonly tls: DestinationTls | undefined
  /** Overrides CALLBACK_TIMEOUT_MS for its origins. */
  readonly timeoutMs: number | undefined
  /** Overrides CALLBACK_RATE_LIMITS for its origins (sends per second, per origin, whole group). */
  readonly rateLimitPerSecond: number | undefined
  /** Overrides CALLBACK_MAX_CONNECTIONS_PER_ORIGIN for its origins. */
  readonly maxConnections: number | undefined
}

/** One version of the file, read and checked. */
export interface DestinationSet {
  /** The file it was read from. */
  readonly file: string
  readonly policies: readonly DestinationPolicy[]
  /** When it was read (ms since the epoch). */
  readonly loadedAt: number
}

/** What the delivery side asks: the policy in force for an origin now; undefined = the env defaults only. */
export interface DestinationLookup {
  /** @param origin as URL.origin gives it ("https://host[:port]", default port omitted) */
  policyFor(origin: string): DestinationPolicy | undefined
  /** The set in force (a new object after each applied reload); undefined without a file. */
  current(): DestinationSet | undefined
}

/** What the admin API and the dashboard show besides the set itself (registry.ts keeps it). */
export interface DestinationsView extends DestinationLookup {
  /** The last reload tried: applied, or refused with the one-line reason (the previous set stayed). */
  lastReload(): { readonly at: number; readonly applied: boolean; readonly problem?: string } | undefined
  /** Origins this policy matched recently, newest first (a few, with when). */
  recentOrigins(policy: DestinationPolicy): ReadonlyArray<{ readonly origin: string; readonly at: number }>
}

/** Until when the cached OAuth2 token of a destination is valid (ms since the epoch); undefined = none cached. */
export interface TokenView {
  tokenValidUntil(policy: DestinationPolicy): number | undefined
}

/** No file: every origin on the env defaults. */
export const NO_DESTINATIONS: DestinationsView = {
  policyFor: () => undefined,
  current: () => undefined,
  lastReload: () => undefined,
  recentOrigins: () => [],
}
