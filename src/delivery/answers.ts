// Pure: THE table of what an attempt's answer means, read by every part that acts on one:
// the transport (which error code and whether a retry can help: http-client.ts), the origin
// gate (circuit: origin-gate.ts), the adaptive concurrency limit (concurrency-limit.ts), the
// shared Retry-After hold (pipeline/deliver.ts) and the retry policy (retry-policy.ts).
// Change a rule here and nowhere else; test/unit/delivery/answers.test.ts walks every row.
//
// A transport names the row of each attempt it makes (AttemptOutcome.answer): the HTTP
// client from the status code (answerToStatus) or from how the connection failed.
import { ErrorCodes, type ErrorCode } from '../errors.ts'

/** delivered: done. retried: tried again by the retry schedule. final: dead-lettered at once. */
export type Verdict = 'delivered' | 'retried' | 'final'

/**
 * What a Retry-After the answer carries does: `holds-origin` — nobody sends to the origin
 * before then (every replica, within MAX_HOLD_MS) and this notification's retry waits it
 * (within 1×–2× its scheduled delay); `delays-retry` — only this notification's retry waits
 * it (the same bounds); `ignored`.
 */
export type RetryAfterUse = 'holds-origin' | 'delays-retry' | 'ignored'

export interface AnswerRule {
  readonly verdict: Verdict
  /** A failure among the origin's recent attempts, towards opening its circuit. */
  readonly countsAgainstHealth: boolean
  /** Lowers the origin's adaptive concurrency limit (by its backoff, once per round trip). */
  readonly lowersLimit: boolean
  readonly retryAfter: RetryAfterUse
  /** The retry waits at least the policy's slow-down floor (the endpoint asked us to slow down, or hung). */
  readonly slowsRetry: boolean
  /**
   * Says something of the origin at all: false when this process, not the origin, may have
   * caused it. Then the attempt is as if never made for the origin's gate: no failure or
   * success towards its circuit (a half-open trial is tried again), no round-trip sample.
   */
  readonly judgesOrigin: boolean
  /** The error the failure becomes; undefined when delivered. */
  readonly code: ErrorCode | undefined
}

function rule(verdict: Verdict, code: ErrorCode | undefined, unwell: boolean, retryAfter: RetryAfterUse, slowsRetry = false): AnswerRule {
  return { verdict, code, countsAgainstHealth: unwell, lowersLimit: unwell, retryAfter, slowsRetry, judgesOrigin: true }
}

const { DELIVERY_HTTP_STATUS, DELIVERY_GONE, DELIVERY_TIMEOUT, DELIVERY_NETWORK } = ErrorCodes

export const ANSWERS = {
  /** 2xx. */
  success: rule('delivered', undefined, false, 'ignored'),
  /** 410 Gone: the client says never again. */
  gone: rule('final', DELIVERY_GONE, false, 'ignored'),
  /** 408 Request Timeout: the server gave up waiting for our request (an idle connection it closed): refuses this request only. */
  requestTimeout: rule('retried', DELIVERY_HTTP_STATUS, false, 'delays-retry'),
  /** 429 Too Many Requests: slow down. */
  tooManyRequests: rule('retried', DELIVERY_HTTP_STATUS, true, 'holds-origin', true),
  /** 503 Service Unavailable. */
  unavailable: rule('retried', DELIVERY_HTTP_STATUS, true, 'holds-origin'),
  /** Any other 5xx. */
  serverError: rule('retried', DELIVERY_HTTP_STATUS, true, 'delays-retry'),
  /** 3xx: redirects are not followed (the address guard checked only this URL). */
  redirect: rule('retried', DELIVERY_HTTP_STATUS, false, 'delays-retry'),
  /**
   * 401 from a destination whose auth is OAuth2 client credentials: the access token was
   * revoked or rotated before its expiry. The transport drops it (the next attempt fetches a
   * new one) and the notification is retried: a token rotation must not dead-letter anything,
   * and it says nothing of the endpoint's health. Any other destination's 401 is a clientError.
   */
  tokenRejected: rule('retried', DELIVERY_HTTP_STATUS, false, 'ignored'),
  /** Any other status (4xx, or outside 200–599): refuses this notification, says nothing of the endpoint. */
  clientError: rule('retried', DELIVERY_HTTP_STATUS, false, 'delays-retry'),
  /** No answer within the attempt's time limit (connecting included). */
  timeout: rule('retried', DELIVERY_TIMEOUT, true, 'ignored', true),
  /**
   * No answer within the time limit, but this process was stalled (its event loop blocked,
   * or itself not scheduled: a starved machine, a freeze) for at least half of the attempt's
   * time: the endpoint may well have answered.
   * Retried, and it says nothing of the endpoint (lib/loop-stall.ts).
   */
  stalledTimeout: { ...rule('retried', DELIVERY_TIMEOUT, false, 'ignored'), judgesOrigin: false },
  /** The connection was refused (ECONNREFUSED). */
  refused: rule('retried', DELIVERY_NETWORK, true, 'ignored'),
  /** The connection was reset or closed before an answer. */
  reset: rule('retried', DELIVERY_NETWORK, true, 'ignored'),
  /** The TLS handshake failed (certificate, protocol). */
  tlsFailure: rule('retried', DELIVERY_NETWORK, true, 'ignored'),
  /** Any other connection failure (DNS name not found, unreachable network). */
  networkFailure: rule('retried', DELIVERY_NETWORK, true, 'ignored'),
  /**
   * The OAuth2 token endpoint failed, timed out or answered something that is not a token:
   * the callback was not sent. The destination's identity provider, not its endpoint, failed,
   * so its circuit and limit are left alone (opening the circuit would say something untrue of
   * the endpoint and hold back nothing: the attempt made no connection to it, and a failed
   * token request is remembered briefly so a burst fails at once instead of hammering the IdP).
   */
  authTokenFailure: rule('retried', ErrorCodes.DELIVERY_AUTH_TOKEN, false, 'ignored'),
  /** The address guard refused the host's address: never sent; ours, not the endpoint's. */
  blockedAddress: rule('final', ErrorCodes.CALLBACK_ADDRESS_BLOCKED, false, 'ignored'),
  /** Our egress proxy (CALLBACK_PROXY_URL) could not be reached or refused the tunnel: ours, not the endpoint's. */
  proxyUnavailable: rule('retried', ErrorCodes.CALLBACK_PROXY_UNAVAILABLE, false, 'ignored'),
  /** The callback URL does not parse, or is not http(s). */
  invalidUrl: rule('final', ErrorCodes.CALLBACK_URL_INVALID, false, 'ignored'),
} as const satisfies Record<string, AnswerRule>

export type AnswerKind = keyof typeof ANSWERS

/**
 * The row of an HTTP status code.
 * @param bearerFromTokenEndpoint the request carried an OAuth2 access token (its 401 is tokenRejected)
 */
export function answerToStatus(statusCode: number, bearerFromTokenEndpoint = false): AnswerKind {
  if (statusCode >= 200 && statusCode < 300) return 'success'
  if (statusCode >= 300 && statusCode < 400) return 'redirect'
  switch (statusCode) {
    case 401:
      return bearerFromTokenEndpoint ? 'tokenRejected' : 'clientError'
    case 408:
      return 'requestTimeout'
    case 410:
      return 'gone'
    case 429:
      return 'tooManyRequests'
    case 503:
      return 'unavailable'
  }
  return statusCode >= 500 && statusCode < 600 ? 'serverError' : 'clientError'
}

/** Whether a retry can help, as the failure's DeliveryError says (`canRetry`). */
export function canRetryAnswer(kind: AnswerKind): boolean {
  return ANSWERS[kind].verdict === 'retried'
}
