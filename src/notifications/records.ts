// What this service writes to Kafka about a notification: the notification itself in its
// one stored form (inside retry records and dead letters), the retry record that waits in
// a retry tier, the dead letter, and the outcome record. A retry record carries all that
// the next attempt and a final dead letter need, so no state lives only in memory.
import { z } from 'zod'
import { NOTIFICATION_KINDS } from './kinds.ts'
import type { Notification } from './payload.ts'

/** A notification as written to Kafka: the same in a retry record and in a dead letter. */
const storedNotificationSchema = z.object({
  kind: z.enum(NOTIFICATION_KINDS),
  processing_id: z.number().int(),
  webhook_id: z.string(),
  callback_url: z.string(),
  body: z.string(),
  is_error: z.boolean(),
  /** Never read; still written (null) because replicas of before 2026-11-30 require it in retry records. */
  error_code: z.number().int().nullish(),
})
export type StoredNotification = z.infer<typeof storedNotificationSchema>

export function toStored(notification: Notification): StoredNotification {
  return {
    kind: notification.kind,
    processing_id: notification.processingId,
    webhook_id: notification.webhookId,
    callback_url: notification.callbackUrl,
    body: notification.body,
    is_error: notification.isError,
    error_code: null,
  }
}

export function fromStored(stored: StoredNotification): Notification {
  return {
    kind: stored.kind,
    processingId: stored.processing_id,
    webhookId: stored.webhook_id,
    callbackUrl: stored.callback_url,
    body: stored.body,
    isError: stored.is_error,
  }
}

/** The input record a notification came from, named in its dead letter. */
const recordSourceSchema = z.object({
  topic: z.string(),
  partition: z.number().int(),
  offset: z.string(),
  key: z.string().nullable(),
  timestamp: z.string().nullable(),
})
export type RecordSource = z.infer<typeof recordSourceSchema>

const retryEnvelopeSchema = z.object({
  v: z.literal(1),
  notification: storedNotificationSchema,
  /** Attempts made so far (0 for a notification replayed from the dead-letter topic). */
  attempts: z.number().int().nonnegative(),
  /** Times the callback origin refused it (circuit open, saturated) without an attempt. */
  deferrals: z.number().int().nonnegative().default(0),
  /** When the next attempt is due, epoch milliseconds. */
  due_at: z.number(),
  first_attempt_at: z.number(),
  last_error: z.string(),
  last_error_code: z.string(),
  last_status_code: z.number().int().nullable(),
  /** The input record the notification came from, for the dead letter if it is given up. */
  source: recordSourceSchema,
  original: z.string(),
  original_truncated: z.boolean().default(false),
  /** Its origin's rate-limit slot is already taken for due_at: sent then without asking for another. */
  reserved_slot: z.boolean().optional(),
})
export type RetryEnvelope = z.infer<typeof retryEnvelopeSchema>

/** What a retry record is made of: the notification, where it came from, where it stands and why it waits. */
export interface RetryRecordParts {
  readonly notification: StoredNotification
  /** The input record it came from (a Provenance, or the dead letter it is replayed from). */
  readonly from: { readonly source: RecordSource; readonly original: string; readonly original_truncated?: boolean | undefined }
  readonly attempts: number
  readonly deferrals: number
  readonly firstAttemptAt: number
  readonly dueAt: number
  readonly lastError: { readonly message: string; readonly code: string; readonly statusCode: number | null }
  /** Its destination's rate-limit slot is taken for dueAt. */
  readonly reservedSlot?: boolean
}

/** The one builder of a retry record (the pipeline's retries and deferrals, parked notifications, replays). */
export function retryEnvelope(parts: RetryRecordParts): RetryEnvelope {
  const { notification, from, lastError } = parts
  return {
    v: 1,
    notification,
    attempts: parts.attempts,
    deferrals: parts.deferrals,
    due_at: parts.dueAt,
    first_attempt_at: parts.firstAttemptAt,
    last_error: lastError.message,
    last_error_code: lastError.code,
    last_status_code: lastError.statusCode,
    source: from.source,
    original: from.original,
    original_truncated: from.original_truncated ?? false,
    ...(parts.reservedSlot === true ? { reserved_slot: true } : {}),
  }
}

/** Parses a retry-topic record, or says why it is not a valid envelope. */
export function parseEnvelope(value: Buffer | undefined): { envelope: RetryEnvelope } | { error: string } {
  if (value === undefined) return { error: 'empty retry record' }
  let json: unknown
  try {
    json = JSON.parse(value.toString('utf8'))
  } catch (error) {
    return { error: `retry record is not JSON: ${(error as Error).message}` }
  }
  const parsed = retryEnvelopeSchema.safeParse(json)
  if (!parsed.success) return { error: `invalid retry record: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` }
  return { envelope: parsed.data }
}

export interface DeadLetter {
  reason: string
  code: string
  /** Where the message came from. */
  source: RecordSource
  /** The record's value as received (UTF-8), so it can be inspected and replayed; the first 64 KiB only when `original_truncated`. */
  original: string
  original_truncated: boolean
  processing_id: number | null
  /** For a notification given up after delivery attempts: what was sent. */
  notification?: StoredNotification
  attempts: number
  last_error: string | null
  last_status_code: number | null
  failed_at: string
}

/**
 * The notification a dead letter holds, if it can be sent again: letters written before
 * the stored form carried processing_id take it from the letter (it is the same); an unknown kind is not guessed.
 */
export function deadLetterNotification(letter: DeadLetter): StoredNotification | undefined {
  if (!letter.notification || letter.processing_id === null) return undefined
  const parsed = storedNotificationSchema.safeParse({ ...letter.notification, processing_id: letter.processing_id })
  return parsed.success ? parsed.data : undefined
}

/** Contract §3: each final outcome of a result, keyed by processing_id. */
export interface Outcome {
  processing_id: number
  status: 'delivered' | 'failed'
  attempts: number
  last_status_code: number | null
  at: string
}

/**
 * Published to the outcomes topic (key: the origin) when an origin is paused automatically
 * because its circuit stayed open longer than CALLBACK_AUTO_PAUSE_AFTER, so that another
 * service can tell the client. Told apart from outcomes by its `event` field.
 */
export interface OriginPausedEvent {
  event: 'origin_paused'
  origin: string
  paused_at: string
  circuit_open_since: string
  last_error: string
}
