// One HTTP attempt of one notification: POST with the attempt's headers, a total time
// limit, no redirects, a cap on how much of the answer is read, and connections kept
// alive and bounded per callback origin. Returns what happened; never throws.
import { Agent, errors as undiciErrors, request } from 'undici'
import { DeliveryError, ErrorCodes, describeError } from '../errors.ts'
import type { Notification } from '../notifications/payload.ts'
import { notificationHeaders } from '../notifications/signing.ts'
import { AddressBlockedError, type AddressGuard } from './address-guard.ts'
import { parseRetryAfter } from './retry-policy.ts'

export type AttemptOutcome =
  | { ok: true; statusCode: number; durationMs: number }
  | { ok: false; error: DeliveryError; durationMs: number }

export interface CallbackClientOptions {
  readonly timeoutMs: number
  readonly connectionsPerOrigin: number
  readonly maxResponseBytes: number
  readonly secrets: readonly Buffer[]
  readonly guard: AddressGuard
}

export class CallbackClient {
  readonly #agent: Agent
  readonly #options: CallbackClientOptions

  constructor(options: CallbackClientOptions) {
    this.#options = options
    this.#agent = new Agent({
      connections: options.connectionsPerOrigin,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: options.timeoutMs, lookup: options.guard.lookup },
    })
  }

  async send(notification: Notification): Promise<AttemptOutcome> {
    const started = performance.now()
    const elapsed = () => Math.round(performance.now() - started)
    // Not AbortSignal.timeout(): its timer (and a WeakRef) would outlive every attempt by the
    // whole timeout, thousands of them at a few hundred attempts per second.
    const deadline = new AbortController()
    const timer = setTimeout(abortOnTimeout, this.#options.timeoutMs, deadline)
    try {
      const url = new URL(notification.callbackUrl)
      this.#options.guard.assertLiteralHostAllowed(url)
      const response = await request(url, {
        dispatcher: this.#agent,
        method: 'POST',
        headers: notificationHeaders(notification, this.#options.secrets, Date.now()),
        body: notification.body,
        signal: deadline.signal,
      })
      // Read (at most a little of) the answer so the connection can be reused.
      await response.body.dump({ limit: this.#options.maxResponseBytes }).catch(() => undefined)
      const { statusCode } = response
      if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode, durationMs: elapsed() }
      return { ok: false, error: statusError(statusCode, response.headers['retry-after']), durationMs: elapsed() }
    } catch (error) {
      return { ok: false, error: transportError(error, this.#options.timeoutMs), durationMs: elapsed() }
    } finally {
      clearTimeout(timer)
    }
  }

  async close(): Promise<void> {
    await this.#agent.close()
  }
}

function abortOnTimeout(deadline: AbortController): void {
  deadline.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
}

function statusError(statusCode: number, retryAfter: string | string[] | undefined): DeliveryError {
  if (statusCode === 410) {
    return new DeliveryError(ErrorCodes.DELIVERY_GONE, 'callback answered 410 Gone', false, { statusCode })
  }
  const retryAfterSeconds = parseRetryAfter(retryAfter, Date.now())
  const redirect = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : ''
  return new DeliveryError(ErrorCodes.DELIVERY_HTTP_STATUS, `callback answered ${statusCode}${redirect}`, true, {
    statusCode,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  })
}

function transportError(error: unknown, timeoutMs: number): DeliveryError {
  const blocked = findCause(error, (cause) => cause instanceof AddressBlockedError)
  if (blocked) return new DeliveryError(ErrorCodes.CALLBACK_ADDRESS_BLOCKED, blocked.message, false, { cause: error })
  const timedOut = findCause(
    error,
    (cause) =>
      (cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) ||
      cause instanceof undiciErrors.HeadersTimeoutError ||
      cause instanceof undiciErrors.BodyTimeoutError ||
      cause instanceof undiciErrors.ConnectTimeoutError,
  )
  if (timedOut) return new DeliveryError(ErrorCodes.DELIVERY_TIMEOUT, `no answer within ${timeoutMs} ms`, true, { cause: error })
  if (error instanceof TypeError && error.message.includes('Invalid URL')) {
    return new DeliveryError(ErrorCodes.CALLBACK_URL_INVALID, describeError(error), false, { cause: error })
  }
  const code = (error as { code?: unknown } | null)?.code
  const detail = typeof code === 'string' ? `${code}: ${describeError(error)}` : describeError(error)
  return new DeliveryError(ErrorCodes.DELIVERY_NETWORK, `connection failed (${detail})`, true, { cause: error })
}

function findCause(error: unknown, test: (cause: unknown) => boolean): Error | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (test(current)) return current as Error
    if (current instanceof AggregateError) {
      const inner = current.errors.find(test) as Error | undefined
      if (inner) return inner
    }
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
