// Pure: what is sent for a result or a request (contract §2). No clock, no I/O: the
// caller passes the time, so every byte here is covered by unit tests.
import type { ProcessingRequest, ProcessingResult } from '../messages/schemas.ts'
import { KIND_TRAITS, NotificationKinds, type NotificationKind } from './kinds.ts'
import { withoutResponseCallbackUrl } from './pass-through.ts'

/** Everything needed to send one notification, the same on every attempt. */
export interface Notification {
  readonly kind: NotificationKind
  readonly processingId: number
  /** Standard Webhooks `webhook-id`: stable for this notification across retries and replicas. */
  readonly webhookId: string
  readonly callbackUrl: string
  readonly body: string
  /** True for error notifications (sent with `X-Error-Notification: true`). */
  readonly isError: boolean
}

export const ErrorStrings = {
  PROCESSING_TYPE: 'processing_error',
  PROCESSING_REASON: 'Unknown error',
  RATE_LIMIT: 'Too many request',
  SERVICE: 'ai_processor',
} as const

/** The result as it arrived: its text, and the object JSON.parse made of it. */
export interface ReceivedResult {
  readonly text: string
  /** Field order and unknown fields kept. */
  readonly raw: Record<string, unknown>
}

/**
 * @param callbackUrl where to send: the result's own, or the one recorded from its request
 */
export function buildResultNotification(result: ProcessingResult, received: ReceivedResult, callbackUrl: string, now: Date): Notification {
  const processingId = result.response.processing_id
  const webhookId = KIND_TRAITS.result.webhookId(processingId)
  if (result.success) return { kind: NotificationKinds.RESULT, processingId, webhookId, callbackUrl, body: successBody(received), isError: false }
  return { kind: NotificationKinds.RESULT, processingId, webhookId, callbackUrl, body: JSON.stringify(errorBody(result, now)), isError: true }
}

/** Contract §2: the result minus response.callback_url, cut out of the text as received where that is certain to be right. */
function successBody({ text, raw }: ReceivedResult): string {
  return withoutResponseCallbackUrl(text) ?? JSON.stringify(rebuiltSuccessBody(raw))
}

function rebuiltSuccessBody(raw: Record<string, unknown>): Record<string, unknown> {
  const { callback_url: _removed, ...response } = raw.response as Record<string, unknown>
  return { ...raw, response }
}

export interface ErrorBody {
  status: 'error'
  timestamp: string
  processing_id: number
  error: {
    type: string
    code: 429 | 500
    message: string
    details: { reason: string; service: string; retry_after_seconds?: number }
  }
}

export function errorBody(result: ProcessingResult, now: Date): ErrorBody {
  const waitSeconds = result.wait_seconds ?? 0
  const rateLimited = waitSeconds > 0
  const message = result.message_error ?? (rateLimited ? ErrorStrings.RATE_LIMIT : ErrorStrings.PROCESSING_REASON)
  return {
    status: 'error',
    timestamp: now.toISOString(),
    processing_id: result.response.processing_id,
    error: rateLimited
      ? {
          type: ErrorStrings.RATE_LIMIT,
          code: 429,
          message,
          details: { reason: ErrorStrings.RATE_LIMIT, service: ErrorStrings.SERVICE, retry_after_seconds: waitSeconds },
        }
      : {
          type: ErrorStrings.PROCESSING_TYPE,
          code: 500,
          message,
          details: { reason: ErrorStrings.PROCESSING_REASON, service: ErrorStrings.SERVICE },
        },
  }
}

/** The optional "accepted" notification for a ProcessingRequest (NOTIFY_ON_ACCEPTED=true). */
export function buildAcceptedNotification(request: ProcessingRequest, now: Date): Notification {
  const body = {
    status: 'accepted',
    timestamp: now.toISOString(),
    processing_id: request.processing_id,
    user_id: request.user_id,
    resume_id: request.resume_id,
    requirements_id: request.requirements_id,
  }
  return {
    kind: NotificationKinds.ACCEPTED,
    processingId: request.processing_id,
    webhookId: KIND_TRAITS.accepted.webhookId(request.processing_id),
    callbackUrl: request.callback_url,
    body: JSON.stringify(body),
    isError: false,
  }
}
