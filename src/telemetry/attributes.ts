// Pure: the names and attributes of this service's spans. The OpenTelemetry semantic
// conventions where one fits (HTTP client, messaging), `notification.*` for the rest.
// The callback's full URL is never recorded (its path or query may carry a client's token):
// only its origin (scheme, host, port).
import type { Attributes } from '@opentelemetry/api'
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions'
import { memoByString } from '../lib/memo.ts'

// Messaging attributes are still "incubating" in the conventions; the package asks users to
// copy such names rather than import them from its unstable entry point.
const ATTR_MESSAGING_SYSTEM = 'messaging.system'
const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type'
const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name'
const ATTR_MESSAGING_DESTINATION_PARTITION_ID = 'messaging.destination.partition.id'
const ATTR_MESSAGING_KAFKA_OFFSET = 'messaging.kafka.offset'

const ATTR_NOTIFICATION_KIND = 'notification.kind'
const ATTR_NOTIFICATION_PROCESSING_ID = 'notification.processing_id'
/** Attempts made before this handling (0 for a new notification); on the handling span. */
const ATTR_NOTIFICATION_PREVIOUS_ATTEMPTS = 'notification.previous_attempts'
/** Attempts made in all, once the handling ended. */
const ATTR_NOTIFICATION_ATTEMPTS = 'notification.attempts'
/** How the handling ended: delivered, retrying, failed, duplicate, interrupted, error. */
const ATTR_NOTIFICATION_RESULT = 'notification.result'
/** The attempt's number, 1 for the first. */
const ATTR_NOTIFICATION_ATTEMPT = 'notification.attempt'
/** scheme://host:port of the callback URL. */
const ATTR_NOTIFICATION_CALLBACK_ORIGIN = 'notification.callback.origin'
/** This service's error code (DELIVERY_HTTP_STATUS, DELIVERY_TIMEOUT, CALLBACK_ADDRESS_BLOCKED…). */
const ATTR_NOTIFICATION_ERROR_CODE = 'notification.error.code'

export type HandlingResult = 'delivered' | 'retrying' | 'failed' | 'duplicate' | 'parked' | 'interrupted' | 'error'

/** The Kafka record a handling continues: the input record, or the retry record it waited in. */
export interface TracedRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  /** The record's headers (traceparent, tracestate, baggage are read from here). */
  readonly headers: ReadonlyMap<string, string>
}

export interface HandlingFacts {
  readonly kind: string
  readonly processingId: number
  readonly previousAttempts: number
}

export interface AttemptFacts {
  /** The span's name: the transport's (HTTP: 'POST'). */
  readonly name: string
  /** 1 for the first attempt. */
  readonly number: number
  /** The transport's destination key (HTTP: the callback URL's origin). */
  readonly destination: string
}

/** What an attempt came to (the shape of the transport's AttemptOutcome): the status, or our error and the status if the client answered. */
export type AttemptEnd =
  | { readonly ok: true; readonly statusCode?: number | undefined }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string; readonly statusCode: number | undefined } }

export function handlingSpanName(kind: string): string {
  return `deliver ${kind}`
}

export function handlingAttributes(record: TracedRecord, facts: HandlingFacts): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: 'kafka',
    [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
    [ATTR_MESSAGING_DESTINATION_NAME]: record.topic,
    [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(record.partition),
    [ATTR_MESSAGING_KAFKA_OFFSET]: Number(record.offset),
    [ATTR_NOTIFICATION_KIND]: facts.kind,
    [ATTR_NOTIFICATION_PROCESSING_ID]: facts.processingId,
    [ATTR_NOTIFICATION_PREVIOUS_ATTEMPTS]: facts.previousAttempts,
  }
}

export function handlingEndAttributes(result: HandlingResult, attempts: number, errorCode: string | undefined): Attributes {
  return {
    [ATTR_NOTIFICATION_RESULT]: result,
    [ATTR_NOTIFICATION_ATTEMPTS]: attempts,
    ...(errorCode === undefined ? {} : { [ATTR_ERROR_TYPE]: errorCode, [ATTR_NOTIFICATION_ERROR_CODE]: errorCode }),
  }
}

export function attemptAttributes(facts: AttemptFacts): Attributes {
  return {
    [ATTR_HTTP_REQUEST_METHOD]: facts.name,
    [ATTR_NOTIFICATION_ATTEMPT]: facts.number,
    // The conventions count resends only: absent on the first attempt.
    ...(facts.number > 1 ? { [ATTR_HTTP_REQUEST_RESEND_COUNT]: facts.number - 1 } : {}),
    [ATTR_NOTIFICATION_CALLBACK_ORIGIN]: facts.destination,
    ...serverOf(facts.destination),
  }
}

/** url.scheme, server.address, server.port of an origin (none for one that does not parse); remembered for many notifications share one. */
const serverOf = memoByString((origin: string): Attributes => {
  const url = URL.parse(origin)
  if (url === null) return {}
  const scheme = url.protocol.replace(/:$/, '')
  return { [ATTR_URL_SCHEME]: scheme, [ATTR_SERVER_ADDRESS]: url.hostname.replace(/^\[|\]$/g, ''), [ATTR_SERVER_PORT]: url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port) }
}, 1000)

/**
 * `error.type` as the HTTP conventions say: the status code when the client answered with an
 * error, else the failure's class (our code); our code is always in `notification.error.code`.
 */
export function attemptEndAttributes(end: AttemptEnd): Attributes {
  if (end.ok) return end.statusCode === undefined ? {} : { [ATTR_HTTP_RESPONSE_STATUS_CODE]: end.statusCode }
  const { code, statusCode } = end.error
  return {
    ...(statusCode === undefined ? {} : { [ATTR_HTTP_RESPONSE_STATUS_CODE]: statusCode }),
    [ATTR_ERROR_TYPE]: statusCode === undefined ? code : String(statusCode),
    [ATTR_NOTIFICATION_ERROR_CODE]: code,
  }
}
