// The OAuth2 access tokens of the destinations whose auth is client credentials (RFC 6749
// §4.4), per destination policy and replica:
// - cached until shortly before `expires_in` runs out (a reloaded file makes new policies,
//   so their tokens are fetched afresh);
// - fetched by one request at a time: attempts that need it meanwhile await that request;
// - a failed request is remembered for FAILURE_MEMORY_MS: a burst of attempts fails at once
//   instead of sending the identity provider one request each;
// - a 401 from the destination drops the token it was sent with (drop), unless a newer one
//   already replaced it.
// The request runs within the deadline of the attempt that started it. The token and the
// client secret never appear in an error, a log line or a metric.
import { request, type Dispatcher } from 'undici'
import type { DestinationPolicy, TokenView } from '../destinations/policy.ts'
import { describeError } from '../errors.ts'
import { findInChain } from '../lib/error-chain.ts'
import { endpointName, readTokenAnswer, tokenRequest, TokenRequestError, type AccessToken, type OAuth2Auth, type TokenRequestResult } from './oauth2-token-request.ts'

export interface OAuth2TokensOptions {
  /** The way a destination's token requests go (system roots plus its CA; the egress proxy when set). */
  readonly dispatcherFor: (policy: DestinationPolicy) => Dispatcher
  /** Each token request's result, by the destination's pattern (a metric). */
  readonly onRequest?: (destination: string, result: TokenRequestResult) => void
  /** Epoch ms. */
  readonly now?: () => number
}

/** A failed token request is answered from memory this long. */
export const FAILURE_MEMORY_MS = 1000
/** A token whose answer gave no expires_in is used this long. */
export const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000
/** A token is no longer used this long before it expires: a tenth of its lifetime, at most 30 s (clock skew, the request's way there). */
const MAX_EXPIRY_MARGIN_MS = 30_000
/** The most of a token endpoint's answer read. */
const MAX_ANSWER_BYTES = 64 * 1024

interface Entry {
  token: string | undefined
  /** Not sent after this (epoch ms). */
  useUntil: number
  /** When it expires, as its answer said (epoch ms). */
  validUntil: number
  flight: Promise<string> | undefined
  failure: TokenRequestError | undefined
  failedUntil: number
}

export class OAuth2Tokens implements TokenView {
  readonly #options: OAuth2TokensOptions
  readonly #now: () => number
  /** Per policy object: the entries of policies no longer in force go with them. */
  readonly #entries = new WeakMap<DestinationPolicy, Entry>()

  constructor(options: OAuth2TokensOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  /**
   * The access token to send to the destination: at once when cached, else once the one
   * token request in flight for it answers. Rejects with TokenRequestError.
   * @param remainingMs what is left of the attempt's deadline, which a request started here shares
   */
  token(policy: DestinationPolicy, auth: OAuth2Auth, remainingMs: number): string | Promise<string> {
    const entry = this.#entry(policy)
    const now = this.#now()
    if (entry.token !== undefined && now < entry.useUntil) return entry.token
    if (entry.flight !== undefined) return entry.flight
    if (entry.failure !== undefined && now < entry.failedUntil) return Promise.reject(entry.failure)
    entry.flight = this.#refresh(entry, policy, auth, remainingMs)
    return entry.flight
  }

  /** The destination refused `token` (401): the next attempt fetches a new one, unless one newer than it is cached already. */
  drop(policy: DestinationPolicy, token: string): void {
    const entry = this.#entries.get(policy)
    if (entry?.token === token) entry.token = undefined
  }

  tokenValidUntil(policy: DestinationPolicy): number | undefined {
    const entry = this.#entries.get(policy)
    return entry?.token === undefined || this.#now() >= entry.useUntil ? undefined : entry.validUntil
  }

  #entry(policy: DestinationPolicy): Entry {
    let entry = this.#entries.get(policy)
    if (entry === undefined) {
      entry = { token: undefined, useUntil: 0, validUntil: 0, flight: undefined, failure: undefined, failedUntil: 0 }
      this.#entries.set(policy, entry)
    }
    return entry
  }

  async #refresh(entry: Entry, policy: DestinationPolicy, auth: OAuth2Auth, timeoutMs: number): Promise<string> {
    try {
      const { token, expiresInSeconds } = await this.#request(policy, auth, timeoutMs)
      const now = this.#now()
      const lifetimeMs = expiresInSeconds === undefined ? DEFAULT_TOKEN_LIFETIME_MS : expiresInSeconds * 1000
      entry.token = token
      entry.validUntil = now + lifetimeMs
      entry.useUntil = now + lifetimeMs - Math.min(MAX_EXPIRY_MARGIN_MS, lifetimeMs / 10)
      entry.failure = undefined
      return token
    } catch (error) {
      entry.failure = error as TokenRequestError
      entry.failedUntil = this.#now() + FAILURE_MEMORY_MS
      throw error
    } finally {
      entry.flight = undefined
    }
  }

  /** One token request; its result counted. Throws TokenRequestError only. */
  async #request(policy: DestinationPolicy, auth: OAuth2Auth, timeoutMs: number): Promise<AccessToken> {
    const { url, headers, body } = tokenRequest(auth)
    const signal = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)))
    try {
      const answer = await request(url, { method: 'POST', headers, body, signal, dispatcher: this.#options.dispatcherFor(policy) })
      const token = readTokenAnswer(url, answer.statusCode, await readCapped(answer.body, url))
      this.#options.onRequest?.(policy.pattern, 'ok')
      return token
    } catch (error) {
      const failure = error instanceof TokenRequestError ? error : requestFailure(url, error, signal, timeoutMs)
      this.#options.onRequest?.(policy.pattern, failure.result)
      throw failure
    }
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, url: string): Promise<string> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of body) {
    length += chunk.length
    if (length > MAX_ANSWER_BYTES) {
      body.destroy()
      throw new TokenRequestError('invalid', `${endpointName(url)} answered more than ${MAX_ANSWER_BYTES} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A request that got no answer: timed out, or could not connect (the socket's own words: no header or body of ours is in them). */
function requestFailure(url: string, error: unknown, signal: AbortSignal, timeoutMs: number): TokenRequestError {
  const where = endpointName(url)
  if (signal.aborted) return new TokenRequestError('timeout', `${where}: no token within ${timeoutMs} ms`)
  const withCode = findInChain(error, (cause) => typeof (cause as { code?: unknown } | null)?.code === 'string') as { code: string } | undefined
  const detail = withCode === undefined ? describeError(error) : `${withCode.code}: ${describeError(withCode)}`
  return new TokenRequestError('unreachable', `${where} unreachable (${detail})`)
}
