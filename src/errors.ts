// One error hierarchy: every error the service raises has a stable code and says
// whether trying again can help. Loops read `canRetry`; they never guess from messages.
import { walkErrorChain } from './lib/error-chain.ts'

export const ErrorCodes = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  MESSAGE_NOT_JSON: 'MESSAGE_NOT_JSON',
  MESSAGE_SCHEMA: 'MESSAGE_SCHEMA',
  MESSAGE_NO_CALLBACK: 'MESSAGE_NO_CALLBACK',
  CALLBACK_URL_INVALID: 'CALLBACK_URL_INVALID',
  CALLBACK_ADDRESS_BLOCKED: 'CALLBACK_ADDRESS_BLOCKED',
  CALLBACK_UNAVAILABLE: 'CALLBACK_UNAVAILABLE',
  CALLBACK_RATE_LIMITED: 'CALLBACK_RATE_LIMITED',
  CALLBACK_PAUSED: 'CALLBACK_PAUSED',
  CALLBACK_PROXY_UNAVAILABLE: 'CALLBACK_PROXY_UNAVAILABLE',
  DELIVERY_HTTP_STATUS: 'DELIVERY_HTTP_STATUS',
  DELIVERY_GONE: 'DELIVERY_GONE',
  DELIVERY_TIMEOUT: 'DELIVERY_TIMEOUT',
  DELIVERY_NETWORK: 'DELIVERY_NETWORK',
  DELIVERY_AUTH_TOKEN: 'DELIVERY_AUTH_TOKEN',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  STORE_REJECTED: 'STORE_REJECTED',
  STORE_ACCESS_REFUSED: 'STORE_ACCESS_REFUSED',
  KAFKA_UNAVAILABLE: 'KAFKA_UNAVAILABLE',
  KAFKA_REJECTED: 'KAFKA_REJECTED',
  KAFKA_ACCESS_REFUSED: 'KAFKA_ACCESS_REFUSED',
  ADMIN_REQUEST: 'ADMIN_REQUEST',
  INTERNAL: 'INTERNAL',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export class NotificationError extends Error {
  readonly code: ErrorCode
  readonly canRetry: boolean

  constructor(code: ErrorCode, message: string, canRetry: boolean, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NotificationError'
    this.code = code
    this.canRetry = canRetry
  }
}

/** A setting is missing or malformed: the service must not start. */
export class ConfigError extends NotificationError {
  readonly variable: string

  constructor(variable: string, problem: string) {
    super(ErrorCodes.CONFIG_INVALID, `${variable}: ${problem}`, false)
    this.name = 'ConfigError'
    this.variable = variable
  }
}

/** A Kafka message that can never be handled: it goes to the dead-letter topic. */
export class PoisonMessageError extends NotificationError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, false, options)
    this.name = 'PoisonMessageError'
  }
}

/** One HTTP attempt failed. `statusCode` is set when the client answered. */
export class DeliveryError extends NotificationError {
  readonly statusCode: number | undefined
  /** Seconds the client asked us to wait (Retry-After), when it said so. */
  readonly retryAfterSeconds: number | undefined

  constructor(
    code: ErrorCode,
    message: string,
    canRetry: boolean,
    details: { statusCode?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(code, message, canRetry, { cause: details.cause })
    this.name = 'DeliveryError'
    this.statusCode = details.statusCode
    this.retryAfterSeconds = details.retryAfterSeconds
  }
}

/** Redis or Kafka could not be reached: the work is not lost, it waits and tries again. */
export class InfrastructureError extends NotificationError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, true, options)
    this.name = 'InfrastructureError'
  }
}

/** Why an admin request cannot be done; the HTTP layer turns it into a status code. */
export type AdminRefusal = 'not-found' | 'busy' | 'invalid'

/** An admin request (dashboard, status API) asked for something that does not exist or cannot be done now. */
export class AdminRequestError extends NotificationError {
  readonly refusal: AdminRefusal

  constructor(refusal: AdminRefusal, message: string) {
    super(ErrorCodes.ADMIN_REQUEST, message, refusal === 'busy')
    this.name = 'AdminRequestError'
    this.refusal = refusal
  }
}

/** Codes that say a service refuses our credentials or certificate: start-up stops (exit 78), a setting must change. */
export const ACCESS_REFUSED_CODES: ReadonlySet<ErrorCode> = new Set([ErrorCodes.KAFKA_ACCESS_REFUSED, ErrorCodes.STORE_ACCESS_REFUSED])

/** Work stopped because the service is shutting down; its record stays uncommitted. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted by shutdown')
    this.name = 'Interrupted'
  }
}

/**
 * Whether trying again can help, by the Kafka client's own rule for a chain of errors
 * (platformatic/kafka's performWithRetry and findBy): no if the error, or any error it
 * aggregates, says `canRetry: false`. A cause is read only under an error that says nothing
 * itself: one that says `canRetry: true` has judged its cause. (The client reports a TLS
 * connection closed mid-handshake, as a broker going down or starting does, as a retryable
 * network error whose cause says false; read as final, it dead-lettered records that only
 * had to wait.) Refusals that a person must fix are found apart, causes included, at
 * start-up (kafkaAccessRefusal).
 */
export function canRetry(error: unknown): boolean {
  let saysNo = false
  walkErrorChain(error, (value) => {
    const flag = (value as { canRetry?: unknown }).canRetry
    if (flag === false) {
      saysNo = true
      return 'stop'
    }
    return flag === true ? 'skip-cause' : undefined
  })
  return !saysNo
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
