// Pure: what is kept in Redis for people to read (a notification's status and the entry of
// each attempt), and the outcome record told to other services (contract §3), made from the
// status so that it reads the same each time it is published.
import type { AttemptOutcome } from '../delivery/transport.ts'
import { isoTime } from '../lib/iso-time.ts'
import type { Outcome } from '../notifications/records.ts'
import type { AttemptRecord, NotificationStatus } from '../store/notification-store.ts'
import type { History } from './decide.ts'

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
    deferrals: history.deferrals,
  }
}

/** The outcome record (contract §3) of a notification that ended; undefined while it has not. */
export function outcomeRecord(processingId: number, status: NotificationStatus): Outcome | undefined {
  if (status.status !== 'delivered' && status.status !== 'failed') return undefined
  return { processing_id: processingId, status: status.status, attempts: status.attempts, last_status_code: status.last_status_code, at: status.updated_at }
}
