// A notification waiting for its next attempt, as stored in a retry topic. It carries all
// that the next attempt and a final dead letter need, so no state lives only in memory.
import { z } from 'zod'
import type { Notification } from '../notifications/payload.ts'
import { NotificationKinds } from '../notifications/payload.ts'

const source = z.object({
  topic: z.string(),
  partition: z.number().int(),
  offset: z.string(),
  key: z.string().nullable(),
  timestamp: z.string().nullable(),
})

export const retryEnvelopeSchema = z.object({
  v: z.literal(1),
  notification: z.object({
    kind: z.enum([NotificationKinds.RESULT, NotificationKinds.ACCEPTED]),
    processing_id: z.number().int(),
    webhook_id: z.string(),
    callback_url: z.string(),
    body: z.string(),
    is_error: z.boolean(),
    error_code: z.number().int().nullable(),
  }),
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
  source,
  original: z.string(),
  original_truncated: z.boolean().default(false),
})

export type RetryEnvelope = z.infer<typeof retryEnvelopeSchema>
export type RecordSource = z.infer<typeof source>

export function toEnvelopeNotification(notification: Notification): RetryEnvelope['notification'] {
  return {
    kind: notification.kind,
    processing_id: notification.processingId,
    webhook_id: notification.webhookId,
    callback_url: notification.callbackUrl,
    body: notification.body,
    is_error: notification.isError,
    error_code: notification.errorCode ?? null,
  }
}

export function fromEnvelopeNotification(stored: RetryEnvelope['notification']): Notification {
  return {
    kind: stored.kind,
    processingId: stored.processing_id,
    webhookId: stored.webhook_id,
    callbackUrl: stored.callback_url,
    body: stored.body,
    isError: stored.is_error,
    errorCode: stored.error_code ?? undefined,
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
