// Pure: the records a decision writes. The retry record and the dead letter that carry a
// notification on, the status and attempt entries kept in Redis for people to read, and the
// outcome record told to other services, made from the status so that it reads the same
// each time it is published.
import type { AttemptOutcome } from '../delivery/transport.ts'
import type { DeliveryError } from '../errors.ts'
import { isoTime } from '../lib/iso-time.ts'
import type { Notification } from '../notifications/payload.ts'
import { toStored, type DeadLetter, type Outcome, type RetryEnvelope } from '../notifications/records.ts'
import type { AttemptRecord, NotificationStatus } from '../store/notification-store.ts'
import type { Provenance } from './provenance.ts'
import type { History } from './settle.ts'

type LetterBase = Omit<DeadLetter, 'attempts' | 'last_error' | 'last_status_code' | 'notification'>

function letterBase(provenance: Provenance, code: string, reason: string, processingId: number | null, now: number): LetterBase {
  const { source, original, original_truncated } = provenance
  return { reason, code, source, original, original_truncated, processing_id: processingId, failed_at: new Date(now).toISOString() }
}

/** A notification given up: the letter carries what was sent, so it can be replayed. */
export function givenUpLetter(provenance: Provenance, notification: Notification, history: History, error: DeliveryError, reason: string, now: number): DeadLetter {
  return {
    ...letterBase(provenance, error.code, reason, notification.processingId, now),
    notification: toStored(notification),
    attempts: history.attempts,
    last_error: error.message,
    last_status_code: error.statusCode ?? null,
  }
}

/** A record that can never become a notification (poison), or whose handling failed for good (`lastError` set). */
export function recordLetter(provenance: Provenance, code: string, reason: string, processingId: number | null, lastError: string | null, now: number): DeadLetter {
  return { ...letterBase(provenance, code, reason, processingId, now), attempts: 0, last_error: lastError, last_status_code: null }
}

export function retryEnvelope(provenance: Provenance, notification: Notification, history: History, dueAt: number, error: DeliveryError, now: number, reservedSlot = false): RetryEnvelope {
  return {
    v: 1,
    notification: toStored(notification),
    attempts: history.attempts,
    deferrals: history.deferrals,
    due_at: dueAt,
    first_attempt_at: history.firstAttemptAt ?? now,
    last_error: error.message,
    last_error_code: error.code,
    last_status_code: error.statusCode ?? null,
    source: provenance.source,
    original: provenance.original,
    original_truncated: provenance.original_truncated,
    ...(reservedSlot ? { reserved_slot: true } : {}),
  }
}

export function attemptRecord(outcome: AttemptOutcome, startedAt: number): AttemptRecord {
  return {
    at: isoTime(startedAt),
    status_code: (outcome.ok ? outcome.statusCode : outcome.error.statusCode) ?? null,
    error: outcome.ok ? null : outcome.error.message,
    duration_ms: outcome.durationMs,
  }
}

export function statusRecord(
  status: NotificationStatus['status'],
  history: History,
  last: { status_code: number | null; error: string | null },
  nextAttemptAt: number | null,
  now: number,
): NotificationStatus {
  return {
    status,
    attempts: history.attempts,
    last_status_code: last.status_code,
    last_error: last.error,
    next_attempt_at: nextAttemptAt === null ? null : isoTime(nextAttemptAt),
    updated_at: isoTime(now),
  }
}

/** The outcome record (contract §3) of a notification that ended; undefined while it has not. */
export function outcomeRecord(processingId: number, status: NotificationStatus): Outcome | undefined {
  if (status.status !== 'delivered' && status.status !== 'failed') return undefined
  return { processing_id: processingId, status: status.status, attempts: status.attempts, last_status_code: status.last_status_code, at: status.updated_at }
}
