// Pure: the OAuth2 client-credentials token request of a destination (RFC 6749 §4.4.2) and
// the reading of its answer (§5.1, §5.2). Nothing here puts the client secret or a token in
// an error message: errors name the token endpoint (origin and path), the status and the
// answer's `error` code at most.
import type { DestinationAuth } from '../destinations/policy.ts'

export type OAuth2Auth = Extract<DestinationAuth, { kind: 'oauth2_client_credentials' }>

/** What a token request came to (the `result` label of notification_oauth2_token_requests_total). */
export type TokenRequestResult = 'ok' | 'refused' | 'unreachable' | 'timeout' | 'invalid'

/** A token request that did not give a usable token: `message` never carries a secret. */
export class TokenRequestError extends Error {
  readonly result: Exclude<TokenRequestResult, 'ok'>

  constructor(result: Exclude<TokenRequestResult, 'ok'>, message: string) {
    super(message)
    this.name = 'TokenRequestError'
    this.result = result
  }
}

export interface TokenRequest {
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: string
}

/** A usable access token and how long it lives (seconds; undefined when the answer did not say). */
export interface AccessToken {
  readonly token: string
  readonly expiresInSeconds: number | undefined
}

/** The POST to the token endpoint: grant_type=client_credentials (+ scope, audience), the client authenticated as the destination says (§2.3.1). */
export function tokenRequest(auth: OAuth2Auth): TokenRequest {
  const form = new URLSearchParams({ grant_type: 'client_credentials' })
  if (auth.scope !== undefined) form.set('scope', auth.scope)
  if (auth.audience !== undefined) form.set('audience', auth.audience)
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
  if (auth.clientAuth === 'client_secret_basic') {
    // §2.3.1: the id and the secret are form-urlencoded before they are joined and base64-encoded.
    headers.authorization = `Basic ${Buffer.from(`${formEncode(auth.clientId)}:${formEncode(auth.clientSecret)}`).toString('base64')}`
  } else {
    form.set('client_id', auth.clientId)
    form.set('client_secret', auth.clientSecret)
  }
  return { url: auth.tokenUrl, headers, body: form.toString() }
}

/** application/x-www-form-urlencoded encoding of one value (space as '+', as URLSearchParams writes it). */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1)
}

/** Where the token endpoint is, for messages: origin and path (a query could carry something secret). */
export function endpointName(tokenUrl: string): string {
  const url = URL.parse(tokenUrl)
  return url === null ? 'the token endpoint' : `token endpoint ${url.origin}${url.pathname}`
}

/**
 * The token in an answer, or why there is none. A successful answer (2xx) must be a JSON
 * object with a non-empty `access_token` that can go in a header, `token_type` Bearer (any
 * case, RFC 6749 §5.1), and `expires_in`, when present, a positive number of seconds (a
 * string of digits is taken too: some servers write it so).
 */
export function readTokenAnswer(tokenUrl: string, statusCode: number, body: string): AccessToken {
  const where = endpointName(tokenUrl)
  const answer = parseObject(body)
  if (statusCode < 200 || statusCode >= 300) {
    const code = typeof answer?.error === 'string' && OAUTH_ERROR_CODE.test(answer.error) ? ` (${answer.error})` : ''
    throw new TokenRequestError('refused', `${where} answered ${statusCode}${code}`)
  }
  if (answer === undefined) throw new TokenRequestError('invalid', `${where} answered ${statusCode} without a JSON object`)
  const { access_token: token, token_type: type, expires_in: expiresIn } = answer
  if (typeof token !== 'string' || !HEADER_SAFE.test(token)) throw new TokenRequestError('invalid', `${where}: the answer has no usable access_token`)
  if (typeof type !== 'string' || type.toLowerCase() !== 'bearer') throw new TokenRequestError('invalid', `${where}: token_type is not Bearer`)
  const seconds = typeof expiresIn === 'string' && /^\d{1,10}$/.test(expiresIn) ? Number(expiresIn) : expiresIn
  if (seconds !== undefined && !(typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0)) {
    throw new TokenRequestError('invalid', `${where}: expires_in is not a positive number of seconds`)
  }
  return { token, expiresInSeconds: seconds }
}

/** Visible ASCII: what a header value may carry without undici refusing it (RFC 6750's b64token is a subset). */
const HEADER_SAFE = /^[\x21-\x7e]+$/
/** RFC 6749 §5.2 error codes are printable ASCII without quotes or backslash; short ones only. */
const OAUTH_ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/

function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}
