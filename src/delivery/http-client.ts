// One HTTP attempt of one notification: POST with the attempt's headers, a total time
// limit, no redirects, a cap on how much of the answer is read (attempt.ts), and
// connections kept alive and bounded per callback origin. Each attempt follows the policy
// its origin's destination has now (CALLBACK_DESTINATIONS_FILE, destinations/policy.ts):
// its headers and credentials, its TLS material and connection limit (destination-agents.ts),
// its timeout; an OAuth2 destination's access token comes first (oauth2-token.ts), within
// the attempt's deadline, and the callback is never sent without it. Returns what happened;
// never throws.
import { createSecretKey, type KeyObject } from 'node:crypto'
import type { Dispatcher } from 'undici'
import type { ProxySettings } from '../config.ts'
import { NO_DESTINATIONS, type DestinationLookup, type DestinationPolicy, type TokenView } from '../destinations/policy.ts'
import type { Notification } from '../notifications/payload.ts'
import { notificationHeaders } from '../notifications/signing.ts'
import type { TraceHeaders } from '../telemetry/tracing.ts'
import { isHttpUrl } from '../lib/http-url.ts'
import { memoByString } from '../lib/memo.ts'
import type { AddressGuard } from './address-guard.ts'
import { Attempt, InvalidCallbackUrl } from './attempt.ts'
import { DestinationAgents } from './destination-agents.ts'
import { withPolicyHeaders } from './destination-headers.ts'
import { OAuth2Tokens } from './oauth2-token.ts'
import { endpointName, type OAuth2Auth, type TokenRequestResult } from './oauth2-token-request.ts'
import type { AttemptOutcome, Transport } from './transport.ts'

export interface CallbackClientOptions {
  readonly timeoutMs: number
  readonly connectionsPerOrigin: number
  readonly maxResponseBytes: number
  readonly secrets: readonly Buffer[]
  readonly guard: AddressGuard
  /** CALLBACK_PROXY_URL: every connection is a CONNECT tunnel through this proxy. */
  readonly proxy?: ProxySettings | undefined
  /** CALLBACK_DESTINATIONS_FILE: what each destination needs; without it, NO_DESTINATIONS (the env defaults everywhere). */
  readonly destinations?: DestinationLookup
  /** Each OAuth2 token request's result, by destination pattern (notification_oauth2_token_requests_total). */
  readonly onTokenRequest?: (destination: string, result: TokenRequestResult) => void
}

/** Where a callback URL is sent: what dispatch() needs. */
interface Target {
  readonly origin: string
  readonly path: string
}

/** The request of one attempt, before a destination's headers. */
interface Request extends Dispatcher.DispatchOptions {
  readonly headers: Record<string, string>
}

/** Parsed callback URLs remembered (forgotten all at once when full). */
const MAX_TARGETS = 1000

/** "scheme://host:port" of a callback URL: the HTTP destination key. Remembered for the last few hundred URLs (parsing costs ~1 µs). */
export const originOf: (url: string) => string = memoByString((url) => URL.parse(url)?.origin ?? url, 256)

export class CallbackClient implements Transport, TokenView {
  readonly attemptName = 'POST'
  readonly #options: CallbackClientOptions
  readonly #destinations: DestinationLookup
  readonly #agents: DestinationAgents
  readonly #tokens: OAuth2Tokens
  /** Parsed callback URLs; many notifications share one. */
  readonly #target: (callbackUrl: string) => Target
  /** KeyObjects made once: createHmac with raw bytes builds one per signature (~1.6 KiB). */
  readonly #signingKeys: readonly KeyObject[]

  constructor(options: CallbackClientOptions) {
    this.#options = options
    this.#destinations = options.destinations ?? NO_DESTINATIONS
    this.#signingKeys = options.secrets.map((secret) => createSecretKey(secret))
    this.#target = memoByString((callbackUrl) => targetOf(callbackUrl, options.guard), MAX_TARGETS)
    this.#agents = new DestinationAgents({ timeoutMs: options.timeoutMs, connectionsPerOrigin: options.connectionsPerOrigin, guard: options.guard, proxy: options.proxy }, this.#destinations)
    this.#tokens = new OAuth2Tokens({ dispatcherFor: (policy) => this.#agents.tokens(policy), ...(options.onTokenRequest === undefined ? {} : { onRequest: options.onTokenRequest }) })
  }

  destinationOf(notification: Notification): string {
    return originOf(notification.callbackUrl)
  }

  /** Longest one attempt to this destination (origin) may take now: its policy's timeout_ms, else CALLBACK_TIMEOUT_MS. */
  timeoutFor(destination: string): number {
    return this.#destinations.policyFor(destination)?.timeoutMs ?? this.#options.timeoutMs
  }

  tokenValidUntil(policy: DestinationPolicy): number | undefined {
    return this.#tokens.tokenValidUntil(policy)
  }

  /** Agents of destinations open now beyond the shared one (tests: none outlive their policy). */
  get destinationAgents(): number {
    return this.#agents.ownAgents
  }

  send(notification: Notification, traceHeaders?: TraceHeaders): Promise<AttemptOutcome> {
    let target: Target
    try {
      target = this.#target(notification.callbackUrl)
    } catch (error) {
      const attempt = new Attempt(this.#options.timeoutMs, this.#options.maxResponseBytes)
      attempt.onResponseError(null, error)
      return attempt.outcome
    }
    const policy = this.#destinations.policyFor(target.origin)
    const attempt = new Attempt(policy?.timeoutMs ?? this.#options.timeoutMs, this.#options.maxResponseBytes)
    try {
      const headers = notificationHeaders(notification, this.#signingKeys, Date.now())
      // traceparent/tracestate: the client's tracing joins the notification's trace. Not signed
      // (Standard Webhooks signs id, timestamp and body only).
      if (traceHeaders !== undefined) Object.assign(headers, traceHeaders)
      const request: Request = { origin: target.origin, path: target.path, method: 'POST', headers, body: notification.body }
      if (policy === undefined) this.#agents.callbacks(undefined).dispatch(request, attempt)
      else if (policy.auth?.kind === 'oauth2_client_credentials') return this.#sendWithToken(attempt, policy, policy.auth, request)
      else this.#dispatch(attempt, policy, { ...request, headers: withPolicyHeaders(headers, policy) })
    } catch (error) {
      attempt.onResponseError(null, error)
    }
    return attempt.outcome
  }

  async close(): Promise<void> {
    await this.#agents.close()
  }

  /** Its access token first (within the attempt's deadline); a 401 to it drops that token. */
  async #sendWithToken(attempt: Attempt, policy: DestinationPolicy, auth: OAuth2Auth, request: Request): Promise<AttemptOutcome> {
    const pending = this.#tokens.token(policy, auth, attempt.remainingMs)
    let token: string
    if (typeof pending === 'string') token = pending
    else {
      attempt.awaitToken(endpointName(auth.tokenUrl))
      try {
        token = await pending
      } catch (error) {
        attempt.tokenFailed(error as Error)
        return attempt.outcome
      }
      // Its deadline passed while the token was fetched: settled already, nothing is sent.
      if (attempt.settled) return attempt.outcome
    }
    attempt.tokenArrived()
    try {
      this.#dispatch(attempt, policy, { ...request, headers: withPolicyHeaders(request.headers, policy, token) })
    } catch (error) {
      attempt.onResponseError(null, error)
    }
    const outcome = await attempt.outcome
    if (outcome.answer === 'tokenRejected') this.#tokens.drop(policy, token)
    return outcome
  }

  #dispatch(attempt: Attempt, policy: DestinationPolicy, request: Request): void {
    const { timeoutMs } = policy
    // Its own timeout: also on the shared Agent, whose waits are CALLBACK_TIMEOUT_MS's.
    const timed = timeoutMs === undefined ? request : { ...request, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }
    this.#agents.callbacks(policy).dispatch(timed, attempt)
  }
}

/**
 * Where a callback URL is sent. Throws as `new URL()` and the guard do, or InvalidCallbackUrl;
 * pure for a given URL and guard, so only URLs that may be sent to are remembered.
 */
function targetOf(callbackUrl: string, guard: AddressGuard): Target {
  const url = new URL(callbackUrl)
  guard.assertLiteralHostAllowed(url)
  if (!isHttpUrl(url)) throw new InvalidCallbackUrl(`callback URL ${url.protocol}//… is not an absolute http(s) URL`)
  return { origin: url.origin, path: url.pathname + url.search }
}

