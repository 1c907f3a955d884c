// The admin view of the destinations (GET /admin/destinations, the dashboard): what each
// destination does, never a secret. Built field by field from what is safe to show, never by
// copying a policy and deleting what is not: a field added to DestinationPolicy later stays
// out of the view until someone adds it here. Header values, bearer tokens, passwords, client
// secrets and key or certificate contents never leave this file; token URLs lose any
// credentials and query string they carry. Pure: the registry and the token cache are asked
// through their views.
import type { DestinationAuth, DestinationPolicy, DestinationsView, DestinationTls, TokenView } from './policy.ts'

/** Stands for every value the view does not show. */
export const REDACTED = '[redacted]'

export type AuthAdminView =
  | { kind: 'bearer' }
  | { kind: 'basic'; username: string }
  | {
      kind: 'oauth2_client_credentials'
      token_url: string
      client_id: string
      scope: string | null
      audience: string | null
      client_auth: 'client_secret_basic' | 'client_secret_post'
    }

export interface DestinationAdminView {
  pattern: string
  index: number
  /** Each header's name, its value always REDACTED. */
  headers: Record<string, typeof REDACTED>
  auth: AuthAdminView | null
  tls: { ca_file: string | null; cert_file: string | null; key_file: string | null } | null
  timeout_ms: number | null
  rate_limit_per_second: number | null
  max_connections: number | null
  recent_origins: Array<{ origin: string; at: string }>
  /** OAuth2: until when the cached token is valid (ISO time); null = none cached or not OAuth2. */
  token_valid_until: string | null
}

export interface DestinationsAdminAnswer {
  /** CALLBACK_DESTINATIONS_FILE; null without one. */
  file: string | null
  loaded_at: string | null
  last_reload: { at: string; applied: boolean; problem?: string } | null
  destinations: DestinationAdminView[]
}

/** The whole answer of GET /admin/destinations. */
export function destinationsAnswer(view: DestinationsView, tokens: TokenView): DestinationsAdminAnswer {
  const set = view.current()
  if (set === undefined) return { file: null, loaded_at: null, last_reload: null, destinations: [] }
  const reload = view.lastReload()
  return {
    file: set.file,
    loaded_at: iso(set.loadedAt),
    last_reload: reload === undefined ? null : { at: iso(reload.at), applied: reload.applied, ...(reload.problem === undefined ? {} : { problem: scrubbed(reload.problem, set.policies) }) },
    destinations: set.policies.map((policy) => redactPolicy(policy, { recentOrigins: view.recentOrigins(policy), tokenValidUntil: tokens.tokenValidUntil(policy) })),
  }
}

/** One destination as the admin API shows it. */
export function redactPolicy(
  policy: DestinationPolicy,
  seen: { recentOrigins: ReadonlyArray<{ readonly origin: string; readonly at: number }>; tokenValidUntil: number | undefined },
): DestinationAdminView {
  const isOAuth2 = policy.auth?.kind === 'oauth2_client_credentials'
  return {
    pattern: policy.pattern,
    index: policy.index,
    headers: Object.fromEntries(Object.keys(policy.headers).map((name) => [name, REDACTED])),
    auth: policy.auth === undefined ? null : authView(policy.auth),
    tls: policy.tls === undefined ? null : tlsView(policy.tls),
    timeout_ms: policy.timeoutMs ?? null,
    rate_limit_per_second: policy.rateLimitPerSecond ?? null,
    max_connections: policy.maxConnections ?? null,
    recent_origins: seen.recentOrigins.map(({ origin, at }) => ({ origin, at: iso(at) })),
    token_valid_until: isOAuth2 && seen.tokenValidUntil !== undefined ? iso(seen.tokenValidUntil) : null,
  }
}

function authView(auth: DestinationAuth): AuthAdminView {
  switch (auth.kind) {
    case 'bearer':
      return { kind: 'bearer' }
    case 'basic':
      return { kind: 'basic', username: auth.username }
    case 'oauth2_client_credentials':
      return {
        kind: 'oauth2_client_credentials',
        token_url: withoutCredentials(auth.tokenUrl),
        client_id: auth.clientId,
        scope: auth.scope ?? null,
        audience: auth.audience ?? null,
        client_auth: auth.clientAuth,
      }
  }
}

/** File paths only: the PEM contents stay in the policy. */
function tlsView(tls: DestinationTls): NonNullable<DestinationAdminView['tls']> {
  return { ca_file: tls.caFile ?? null, cert_file: tls.certFile ?? null, key_file: tls.keyFile ?? null }
}

/** A token URL may carry a password (userinfo) or an API key (query): both stay out. */
export function withoutCredentials(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return REDACTED
  }
  const query = parsed.search === '' ? '' : `?${REDACTED}`
  const userinfo = parsed.username === '' && parsed.password === '' ? '' : `${REDACTED}@`
  return `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}${query}`
}

/**
 * A refused reload's reason names the entry and the field, never a value; should one ever
 * quote a value anyway, the secrets the service knows (those in force) are blanked in it.
 */
function scrubbed(problem: string, policies: readonly DestinationPolicy[]): string {
  let text = problem
  for (const secret of policies.flatMap(secretsOf)) if (secret.length >= MIN_SCRUBBED_LENGTH) text = text.replaceAll(secret, REDACTED)
  return text
}

/** Shorter values (a "1", a "true") would blank ordinary words of the reason. */
const MIN_SCRUBBED_LENGTH = 4

function secretsOf(policy: DestinationPolicy): string[] {
  const values = Object.values(policy.headers)
  const auth = policy.auth
  if (auth?.kind === 'bearer') values.push(auth.token)
  if (auth?.kind === 'basic') values.push(auth.password)
  if (auth?.kind === 'oauth2_client_credentials') values.push(auth.clientSecret)
  return values
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
