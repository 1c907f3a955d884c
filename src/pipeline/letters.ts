// Pure: the Kafka records that carry a notification on, or tell why a record could not be
// one: the retry record it waits in (built by notifications/records.ts retryEnvelope, the
// one builder) and the dead letter. Both name where it came from (provenance), so it can
// always be traced and replayed.
import type { DeliveryError } from '../errors.ts'
import type { Notification } from '../notifications/payload.ts'
import { retryEnvelope, toStored, type DeadLetter, type RetryEnvelope } from '../notifications/records.ts'
import type { Decision, History } from './decide.ts'
import type { Provenance } from './provenance.ts'

/** The notification and where it came from: a Dispatch will do. */
export interface Carried {
  readonly notification: Notification
  readonly provenance: Provenance
}

/** Why and until when it waits: a Retry decision will do. */
export interface Waiting {
  readonly history: History
  readonly dueAt: number
  readonly error: DeliveryError
  readonly reservedSlot?: boolean | undefined
}

export function retryRecord(carried: Carried, waiting: Waiting, now: number): RetryEnvelope {
  const { history, error } = waiting
  return retryEnvelope({
    notification: toStored(carried.notification),
    from: carried.provenance,
    attempts: history.attempts,
    deferrals: history.deferrals,
    firstAttemptAt: history.firstAttemptAt ?? now,
    dueAt: waiting.dueAt,
    lastError: { message: error.message, code: error.code, statusCode: error.statusCode ?? null },
    reservedSlot: waiting.reservedSlot === true,
  })
}

/** A notification given up: the letter carries what was sent, so it can be replayed. */
export function givenUpLetter(carried: Carried, decision: Extract<Decision, { kind: 'give-up' }>, now: number): DeadLetter {
  const { notification } = carried
  const { error, history } = decision
  return {
    ...letterBase(carried.provenance, { code: error.code, reason: decision.reason, processingId: notification.processingId }, now),
    notification: toStored(notification),
    attempts: history.attempts,
    last_error: error.message,
    last_status_code: error.statusCode ?? null,
  }
}

/** Why a record was dead-lettered without becoming a notification. */
export interface RecordProblem {
  readonly code: string
  readonly reason: string
  readonly processingId: number | null
  /** Set when its handling failed for good (a bug, a final error); null for poison. */
  readonly lastError: string | null
}

/** A record that can never become a notification (poison), or whose handling failed for good. */
export function recordLetter(provenance: Provenance, problem: RecordProblem, now: number): DeadLetter {
  return { ...letterBase(provenance, problem, now), attempts: 0, last_error: problem.lastError, last_status_code: null }
}

type LetterBase = Omit<DeadLetter, 'attempts' | 'last_error' | 'last_status_code' | 'notification'>

function letterBase(provenance: Provenance, why: Pick<RecordProblem, 'code' | 'reason' | 'processingId'>, now: number): LetterBase {
  const { source, original, original_truncated } = provenance
  return { reason: why.reason, code: why.code, source, original, original_truncated, processing_id: why.processingId, failed_at: new Date(now).toISOString() }
}
