// Pure: the decision of what becomes of a notification once its attempt is over, or once its
// destination (callback origin) refused to take it now (circuit open, saturated, holding us off with Retry-After,
// or its rate-limit slot is further ahead than is worth waiting for in-process). Time and randomness are inputs,
// so every branch is unit-tested; the stages around it only carry the decision out.
//
//   attempted ── 2xx ─────────────────────────────────► Delivered
//             └─ failed ── retry can help, tier left ──► Retry{tier, dueAt}   (a wait its tier does not cover goes to a
//                                                          tier that does, or is cut to the longest: placeWait)
//                       └─ final (answers.ts) or schedule exhausted ──► GiveUp
//   refused ──── deferrals left in the schedule ───────► Retry{tier, dueAt} (no attempt used)
//             └─ refused for the whole schedule ────────► GiveUp{CALLBACK_UNAVAILABLE}
//   slot later ─────────────────────────────────────────► Retry{the first tier that long, dueAt = the slot}
//                                                         (neither an attempt nor a deferral: the client is fine)
import type { AttemptOutcome } from '../delivery/transport.ts'
import { decideRetry, placeWait, tierAfter, type RetryPolicy } from '../delivery/retry-policy.ts'
import { DeliveryError, ErrorCodes } from '../errors.ts'
import type { RetryTier } from '../names.ts'

/** Where a notification stands: attempts made, times refused by its origin's gate, first attempt. */
export interface History {
  readonly attempts: number
  readonly deferrals: number
  readonly firstAttemptAt: number | undefined
}

export const FIRST_TIME: History = { attempts: 0, deferrals: 0, firstAttemptAt: undefined }

/** The retry schedule as policy (delays, jitter, floors) and the tiers that hold the waiting. */
export interface RetrySchedule {
  readonly policy: RetryPolicy
  readonly tiers: readonly RetryTier[]
}

export type Happening =
  | { readonly kind: 'attempted'; readonly outcome: AttemptOutcome; readonly startedAt: number }
  | { readonly kind: 'refused'; readonly reason: 'circuit-open' | 'saturated' | 'held'; readonly retryAt: number; readonly destination: string }
  /** Its rate-limit slot, reserved, is at `slotAt`. */
  | { readonly kind: 'slot-later'; readonly slotAt: number; readonly destination: string }

/** Each decision carries the notification's history after what happened. */
export type Decision =
  | { readonly kind: 'delivered'; readonly history: History; readonly statusCode: number | undefined }
  | { readonly kind: 'retry'; readonly history: History; readonly tier: RetryTier; readonly dueAt: number; readonly error: DeliveryError; readonly reservedSlot?: boolean }
  | { readonly kind: 'give-up'; readonly history: History; readonly error: DeliveryError; readonly reason: string }

/**
 * @param now when the decision is made (the attempt's end, or the refusal)
 * @param random a number in [0, 1) for the retry jitter
 */
export function decide(happening: Happening, history: History, schedule: RetrySchedule, now: number, random: () => number = Math.random): Decision {
  switch (happening.kind) {
    case 'attempted':
      return afterAttempt(happening, history, schedule, now, random)
    case 'refused':
      return afterRefusal(happening, history, schedule, now)
    case 'slot-later':
      return untilSlot(happening, history, schedule, now)
  }
}

function afterAttempt(attempt: Extract<Happening, { kind: 'attempted' }>, history: History, schedule: RetrySchedule, now: number, random: () => number): Decision {
  const after: History = { attempts: history.attempts + 1, deferrals: history.deferrals, firstAttemptAt: history.firstAttemptAt ?? attempt.startedAt }
  const { outcome } = attempt
  if (outcome.ok) return { kind: 'delivered', history: after, statusCode: outcome.statusCode }

  const { error } = outcome
  const retry = decideRetry(schedule.policy, after.attempts, outcome, random)
  const scheduled = retry.retry ? tierAfter(schedule.tiers, schedule.policy.scheduleMs, after.attempts) : undefined
  if (retry.retry && scheduled) {
    const { tier, waitMs } = placeWait(schedule.tiers, scheduled, retry.delayMs, schedule.policy.jitter)
    return { kind: 'retry', history: after, tier, dueAt: now + waitMs, error }
  }
  return { kind: 'give-up', history: after, error, reason: `delivery given up after ${after.attempts} attempt(s): ${error.message}` }
}

const REFUSAL_WHY = {
  saturated: 'is saturated (slow answers)',
  'circuit-open': 'has its circuit open (repeated failures)',
  held: 'asked to be left alone for a while (Retry-After)',
} as const

/**
 * Waits in the shortest tier at least as long as the wait, so it is due before the records
 * queued behind it there; with its slot reserved, it is sent then without asking again.
 */
function untilSlot(slot: Extract<Happening, { kind: 'slot-later' }>, history: History, schedule: RetrySchedule, now: number): Decision {
  const waitMs = slot.slotAt - now
  const [first] = schedule.tiers
  if (!first) throw new Error('no retry tier')
  // The tier only: a reserved slot is not cut to the longest tier, it is due when it is.
  const { tier } = placeWait(schedule.tiers, first, waitMs, 0)
  const error = new DeliveryError(ErrorCodes.CALLBACK_RATE_LIMITED, `callback origin ${slot.destination} is rate-limited: next send slot in ${waitMs} ms`, true)
  return { kind: 'retry', history, tier, dueAt: slot.slotAt, error, reservedSlot: true }
}

/** Waiting for an origin never costs an attempt: deferrals walk the schedule on their own. */
function afterRefusal(refusal: Extract<Happening, { kind: 'refused' }>, history: History, schedule: RetrySchedule, now: number): Decision {
  const after: History = { attempts: history.attempts, deferrals: history.deferrals + 1, firstAttemptAt: history.firstAttemptAt ?? now }
  const why = REFUSAL_WHY[refusal.reason]
  const reason = `callback origin ${refusal.destination} ${why}`
  const scheduled = tierAfter(schedule.tiers, schedule.policy.scheduleMs, after.deferrals)
  if (!scheduled) {
    const error = new DeliveryError(ErrorCodes.CALLBACK_UNAVAILABLE, `${reason} for longer than the retry schedule`, false)
    return { kind: 'give-up', history: after, error, reason: `delivery given up: ${error.message}` }
  }
  const error = new DeliveryError(ErrorCodes.CALLBACK_UNAVAILABLE, reason, true)
  const { tier, waitMs } = placeWait(schedule.tiers, scheduled, Math.max(scheduled.delayMs, refusal.retryAt - now), schedule.policy.jitter)
  return { kind: 'retry', history: after, tier, dueAt: now + waitMs, error }
}
