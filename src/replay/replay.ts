// Replays dead-lettered notifications: a notification that was given up is sent again
// through the first retry tier with a fresh schedule (its "sent" marker is cleared first);
// a poison record, only when asked, is produced again to the topic it came from (unless
// only its first 64 KiB were kept).
// A dead letter is replayed once: a second run skips it unless forced.
import type { Publisher } from '../kafka/publisher.ts'
import { replayedKey, type RetryTier } from '../names.ts'
import { deadLetterNotification, retryEnvelope, type DeadLetter, type RetryEnvelope, type StoredNotification } from '../notifications/records.ts'
import type { NotificationStore } from '../store/notification-store.ts'
import type { StoredDeadLetter } from './dead-letters.ts'
import { matchesFilter, type ReplayFilter } from './filter.ts'

export interface ReplaySelection {
  /** Replay only these processing ids; empty = all. */
  readonly processingIds: ReadonlySet<number>
  readonly includePoison: boolean
  /** Replay only the dead letters this filter matches (filter.ts); absent = all. */
  readonly filter?: ReplayFilter
}

export type ReplayAction =
  | { kind: 'notification'; stored: StoredDeadLetter; letter: DeadLetter; notification: StoredNotification }
  | { kind: 'poison'; stored: StoredDeadLetter; letter: DeadLetter }

/** Pure: which dead letters a selection replays, and how. */
export function planReplay(letters: readonly StoredDeadLetter[], selection: ReplaySelection): ReplayAction[] {
  const actions: ReplayAction[] = []
  for (const stored of letters) {
    const { letter } = stored
    if (!letter) continue
    if (selection.processingIds.size > 0 && (letter.processing_id === null || !selection.processingIds.has(letter.processing_id))) continue
    if (selection.filter && !matchesFilter(selection.filter, stored)) continue
    const notification = deadLetterNotification(letter)
    if (notification) {
      actions.push({ kind: 'notification', stored, letter, notification })
    } else if (letter.notification) {
      continue // a notification of a kind this version does not know: not sent as anything else
    } else if (selection.includePoison && !letter.original_truncated) {
      actions.push({ kind: 'poison', stored, letter })
    }
  }
  return actions
}

/** Pure: the retry record that sends a given-up notification again, due now. */
export function replayEnvelope(action: Extract<ReplayAction, { kind: 'notification' }>, now: number): RetryEnvelope {
  const { letter, notification } = action
  const lastError = { message: letter.last_error ?? letter.reason, code: letter.code, statusCode: letter.last_status_code }
  return retryEnvelope({ notification, from: letter, attempts: 0, deferrals: 0, firstAttemptAt: now, dueAt: now, lastError })
}

export interface ReplayDeps {
  store: NotificationStore
  publisher: Publisher
  /** Where replayed notifications start again: the first retry tier. */
  firstTier: RetryTier
  deadLetterTopic: string
}

export interface ReplayReport {
  replayed: number
  alreadyReplayed: number
}

export async function replay(actions: readonly ReplayAction[], deps: ReplayDeps, options: { force: boolean }): Promise<ReplayReport> {
  const report: ReplayReport = { replayed: 0, alreadyReplayed: 0 }
  for (const action of actions) {
    const marker = replayedKey(deps.deadLetterTopic, action.stored.partition, action.stored.offset)
    if (!(await deps.store.markReplayed(marker)) && !options.force) {
      report.alreadyReplayed++
    } else if (action.kind === 'notification') {
      const envelope = replayEnvelope(action, Date.now())
      await deps.store.forget(envelope.notification.kind, envelope.notification.processing_id)
      await deps.publisher.scheduleRetry(deps.firstTier.topic, envelope)
      report.replayed++
    } else {
      await deps.publisher.republish(action.letter.source.topic, action.letter.source.key, action.letter.original)
      report.replayed++
    }
  }
  return report
}
