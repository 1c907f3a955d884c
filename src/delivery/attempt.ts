// One HTTP attempt's dispatch handler (undici's DispatchHandler): the attempt's deadline,
// the cap on the answer read, and what the answer, or the failure without one, becomes:
// its row in the answer table (answers.ts) and its error. Never throws at its caller:
// `outcome` settles once.
//
// Why a handler on the Agent's dispatch() and not undici.request(): request() builds, per
// attempt, a RequestHandler (an AsyncResource), a Readable for the answer, an AbortSignal
// listener and its own promise: about 11 KiB per notification, the largest share of the
// service's allocation. Here one small handler object per attempt does the same job.
import { errors as undiciErrors, type Dispatcher } from 'undici'
import { DeliveryError, ErrorCodes, describeError } from '../errors.ts'
import { findInChain } from '../lib/error-chain.ts'
import { loopStalledMs } from '../lib/loop-stall.ts'
import { AddressBlockedError } from './address-guard.ts'
import { ANSWERS, answerToStatus, canRetryAnswer, type AnswerKind } from './answers.ts'
import { ProxyError } from './proxy-tunnel.ts'
import { parseRetryAfter } from './retry-policy.ts'
import type { AttemptOutcome } from './transport.ts'

/** A callback URL that parses but cannot be sent to over HTTP (another scheme, no host). */
export class InvalidCallbackUrl extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidCallbackUrl'
  }
}

/**
 * The handler of one attempt. Settles `outcome` once: with the status when an answer came
 * (whatever then happens to the rest of its body), else with the transport error. The
 * body is read, up to maxResponseBytes, so the connection can be reused; a longer one is
 * cut (which closes the connection).
 */
export class Attempt implements Dispatcher.DispatchHandler {
  readonly outcome: Promise<AttemptOutcome>
  readonly #resolve: (outcome: AttemptOutcome) => void
  readonly #started = performance.now()
  /** This process's stall so far (lib/loop-stall.ts): a timeout it caused says nothing of the endpoint. */
  readonly #stalledAtStart = loopStalledMs()
  readonly #timeoutMs: number
  readonly #maxResponseBytes: number
  readonly #timer: NodeJS.Timeout
  #controller: Dispatcher.DispatchController | null = null
  #settled = false
  /** 0 until a final (non-1xx) status arrived. */
  #statusCode = 0
  #retryAfter: string | string[] | undefined
  #bytesRead = 0
  /** Waiting for its OAuth2 access token: the deadline then is the token endpoint's failure. */
  #awaitingToken: string | undefined
  /** It carries an OAuth2 access token: a 401 is tokenRejected (answers.ts). */
  #bearerFromTokenEndpoint = false

  constructor(timeoutMs: number, maxResponseBytes: number) {
    let resolve!: (outcome: AttemptOutcome) => void
    this.outcome = new Promise((settle) => (resolve = settle))
    this.#resolve = resolve
    this.#timeoutMs = timeoutMs
    this.#maxResponseBytes = maxResponseBytes
    // Not AbortSignal.timeout(): its timer (and a WeakRef) would outlive every attempt by the
    // whole timeout, thousands of them at a few hundred attempts per second.
    this.#timer = setTimeout(onDeadline, timeoutMs, this)
  }

  /** What is left of its time (ms): a token request it starts shares its deadline. */
  get remainingMs(): number {
    return this.#timeoutMs - (performance.now() - this.#started)
  }

  get settled(): boolean {
    return this.#settled
  }

  /** @param endpoint the token endpoint, named for the error should the deadline pass first */
  awaitToken(endpoint: string): void {
    this.#awaitingToken = endpoint
  }

  /** Its token came: the request is about to be dispatched, and carries it. */
  tokenArrived(): void {
    this.#awaitingToken = undefined
    this.#bearerFromTokenEndpoint = true
  }

  /** No token: the callback is not sent; a failed attempt of its own kind (authTokenFailure). */
  tokenFailed(error: Error): void {
    const failure = new DeliveryError(ErrorCodes.DELIVERY_AUTH_TOKEN, `no OAuth2 access token: ${error.message}`, canRetryAnswer('authTokenFailure'), { cause: error })
    this.#settle({ ok: false, answer: 'authTokenFailure', error: failure, durationMs: this.#elapsed() })
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // The deadline passed while the request waited for a connection. Throwing here fails
    // just this request; controller.abort() would also destroy the connection. Its clock, not
    // only its timer: a process woken from SIGSTOP (or starved) reads its sockets before it
    // runs its timers, and a request written then would go out on a claim that may have
    // expired meanwhile (the claim was checked for one timeout's worth of sending).
    if (!this.#settled && performance.now() - this.#started > this.#timeoutMs) this.expire()
    if (this.#settled) throw new undiciErrors.RequestAbortedError('deadline passed before the request was sent')
    this.#controller = controller
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return
    this.#statusCode = statusCode
    if (statusCode >= 300) this.#retryAfter = headers['retry-after']
    if (Number(headers['content-length']) > this.#maxResponseBytes) this.#answeredTooMuch(controller)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytesRead += chunk.length
    if (this.#bytesRead > this.#maxResponseBytes) this.#answeredTooMuch(controller)
  }

  onResponseEnd(): void {
    this.#settle(this.#answered())
  }

  /** undici passes a null controller (its types say otherwise) when dispatch() fails at once; send() does too. */
  onResponseError(_controller: Dispatcher.DispatchController | null, error: unknown): void {
    if (this.#statusCode !== 0) this.#settle(this.#answered())
    else {
      const failure = answerToFailure(error)
      const stalledMs = failure === 'timeout' ? this.#ownStallMs() : 0
      const answer = stalledMs > 0 ? 'stalledTimeout' : failure
      this.#settle({ ok: false, answer, error: transportError(answer, error, this.#timeoutMs, stalledMs), durationMs: this.#elapsed() })
    }
  }

  /**
   * How long this process was stalled during the attempt, when that was at least half its
   * time limit (0 otherwise): then the timeout says more of this process than of the endpoint.
   * Not "would it have timed out without the stall": an endpoint that never answers, sent to
   * by a process stalled a few hundred ms on a loaded machine, would then never open its circuit.
   */
  #ownStallMs(): number {
    const stalledMs = loopStalledMs() - this.#stalledAtStart
    return stalledMs >= this.#timeoutMs / 2 ? Math.round(stalledMs) : 0
  }

  /** The deadline: settle, then stop the request if it started (undici then reports it to us, ignored). */
  expire(): void {
    if (this.#awaitingToken !== undefined) return this.tokenFailed(new Error(`${this.#awaitingToken}: no token within ${this.#timeoutMs} ms`))
    const controller = this.#controller
    const reason = new DOMException('The operation was aborted due to timeout', 'TimeoutError')
    this.onResponseError(controller, reason)
    controller?.abort(reason)
  }

  #answeredTooMuch(controller: Dispatcher.DispatchController): void {
    this.#settle(this.#answered())
    controller.abort(new undiciErrors.RequestAbortedError('answer larger than maxResponseBytes'))
  }

  #answered(): AttemptOutcome {
    const statusCode = this.#statusCode
    const answer = answerToStatus(statusCode, this.#bearerFromTokenEndpoint)
    if (answer === 'success') return { ok: true, answer, statusCode, durationMs: this.#elapsed() }
    return { ok: false, answer, error: statusError(answer, statusCode, this.#retryAfter), durationMs: this.#elapsed() }
  }

  #settle(outcome: AttemptOutcome): void {
    if (this.#settled) return
    this.#settled = true
    clearTimeout(this.#timer)
    this.#controller = null
    this.#resolve(outcome)
  }

  #elapsed(): number {
    return Math.round(performance.now() - this.#started)
  }
}

/**
 * The deadline's timer gives the answer one more turn of the event loop: after a long turn
 * (a busy or starved process) timers run before sockets are read, so an answer already
 * received would otherwise be taken for a timeout, and sent again.
 */
function onDeadline(attempt: Attempt): void {
  setImmediate(expireUnlessAnswered, attempt)
}

function expireUnlessAnswered(attempt: Attempt): void {
  if (!attempt.settled) attempt.expire()
}

/** The error of an answer that is not 2xx: its code and whether a retry can help from the answer table. */
function statusError(answer: AnswerKind, statusCode: number, retryAfter: string | string[] | undefined): DeliveryError {
  const { code, retryAfter: use } = ANSWERS[answer]
  const retryAfterSeconds = use === 'ignored' ? undefined : parseRetryAfter(retryAfter, Date.now())
  const what = answer === 'gone' ? ' Gone' : answer === 'redirect' ? ' (redirects are not followed)' : answer === 'tokenRejected' ? ' (access token refused: a new one is fetched)' : ''
  return new DeliveryError(code ?? ErrorCodes.DELIVERY_HTTP_STATUS, `callback answered ${statusCode}${what}`, canRetryAnswer(answer), {
    statusCode,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  })
}

/** Which row of the answer table a failure without an answer is. */
function answerToFailure(error: unknown): AnswerKind {
  if (findInChain(error, (cause) => cause instanceof AddressBlockedError)) return 'blockedAddress'
  // Our egress proxy failed, not the client's endpoint.
  if (findInChain(error, (cause) => cause instanceof ProxyError)) return 'proxyUnavailable'
  if (findInChain(error, isTimeout)) return 'timeout'
  if (findInChain(error, isInvalidUrl)) return 'invalidUrl'
  const code = errnoOf(error)
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') return 'reset'
  if (code !== undefined && TLS_FAILURE.test(code)) return 'tlsFailure'
  return 'networkFailure'
}

function isTimeout(cause: unknown): boolean {
  return (
    (cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) ||
    cause instanceof undiciErrors.HeadersTimeoutError ||
    cause instanceof undiciErrors.BodyTimeoutError ||
    cause instanceof undiciErrors.ConnectTimeoutError
  )
}

function isInvalidUrl(cause: unknown): boolean {
  return (cause instanceof TypeError && cause.message.includes('Invalid URL')) || cause instanceof InvalidCallbackUrl
}

/** Node's and OpenSSL's codes of a failed TLS handshake or certificate check. */
const TLS_FAILURE = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|EPROTO$)/

/** The first string `code` along the cause chain (the socket's errno, undici's or OpenSSL's code). */
function errnoOf(error: unknown): string | undefined {
  const withCode = findInChain(error, (cause) => typeof (cause as { code?: unknown } | null)?.code === 'string')
  return (withCode as { code?: string } | undefined)?.code
}

function transportError(answer: AnswerKind, error: unknown, timeoutMs: number, stalledMs: number): DeliveryError {
  const code = ANSWERS[answer].code ?? ErrorCodes.DELIVERY_NETWORK
  const retry = canRetryAnswer(answer)
  switch (answer) {
    case 'blockedAddress':
    case 'proxyUnavailable':
      return new DeliveryError(code, describeError(findInChain(error, (cause) => cause instanceof AddressBlockedError || cause instanceof ProxyError)), retry, { cause: error })
    case 'timeout':
      return new DeliveryError(code, `no answer within ${timeoutMs} ms`, retry, { cause: error })
    case 'stalledTimeout':
      return new DeliveryError(code, `no answer within ${timeoutMs} ms, ${stalledMs} ms of which this process was stalled (not held against the endpoint)`, retry, { cause: error })
    case 'invalidUrl':
      return new DeliveryError(code, describeError(findInChain(error, isInvalidUrl)), retry, { cause: error })
  }
  const errno = (error as { code?: unknown } | null)?.code
  const detail = typeof errno === 'string' ? `${errno}: ${describeError(error)}` : describeError(error)
  return new DeliveryError(code, `connection failed (${detail})`, retry, { cause: error })
}
