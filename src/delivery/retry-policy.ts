// Pure retry policy (contract §3): when to try a failed delivery again, and after how long.
// The schedule is configuration; ±20 % jitter spreads retries of many notifications. Which
// answers are final, which wait at least `slowDownFloorMs` and which Retry-After is honoured
// (within 1×–2× of the scheduled delay) is the answer table's (answers.ts).
import type { DeliveryError } from '../errors.ts'
import type { RetryTier } from '../names.ts'
import { ANSWERS, type AnswerKind } from './answers.ts'

export interface RetryPolicy {
  /** Delay before retry n (index 0 = first retry). */
  readonly scheduleMs: readonly number[]
  /** Fraction of jitter either side of the scheduled delay. */
  readonly jitter: number
  /** Minimum wait after an answer whose rule says `slowsRetry` (answers.ts). */
  readonly slowDownFloorMs: number
}

export const DEFAULT_JITTER = 0.2
export const DEFAULT_SLOW_DOWN_FLOOR_MS = 60_000

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: 'final' | 'exhausted' }

/** A failed attempt (the failed AttemptOutcome itself will do). */
export interface Failure {
  readonly answer: AnswerKind
  readonly error: DeliveryError
}

/**
 * @param attemptsMade attempts already made, the failed one included (1 after the first)
 * @param random a number in [0, 1), injectable for tests
 */
export function decideRetry(policy: RetryPolicy, attemptsMade: number, failure: Failure, random: () => number = Math.random): RetryDecision {
  const { error } = failure
  const rule = ANSWERS[failure.answer]
  if (rule.verdict !== 'retried') return { retry: false, reason: 'final' }
  const scheduled = policy.scheduleMs[attemptsMade - 1]
  if (scheduled === undefined) return { retry: false, reason: 'exhausted' }

  let delayMs = scheduled * (1 - policy.jitter + 2 * policy.jitter * random())
  if (error.retryAfterSeconds !== undefined && rule.retryAfter !== 'ignored') {
    delayMs = clamp(error.retryAfterSeconds * 1000, scheduled, 2 * scheduled)
  }
  if (rule.slowsRetry) delayMs = Math.max(delayMs, policy.slowDownFloorMs)
  return { retry: true, delayMs: Math.round(delayMs) }
}

/** Where a notification waits for its next try, and how long. */
export interface Placement {
  readonly tier: RetryTier
  readonly waitMs: number
}

/**
 * Where a wait of `waitMs` is held, given the tier the schedule names for this step. A tier's
 * consumer reads its records in order, each due about the tier's delay after it was written,
 * so one due much later (a slow-down floor, a long Retry-After, an open circuit) would hold
 * back every record behind it, every origin's, for as long as it waits (contract §3: a
 * waiting retry never blocks other notifications). So a wait the scheduled tier does not
 * cover (its delay plus the jitter) goes to the shortest tier that does; one longer than the
 * longest tier is cut to that tier's delay, and the notification is looked at again then.
 */
export function placeWait(tiers: readonly RetryTier[], scheduled: RetryTier, waitMs: number, jitter: number): Placement {
  const covers = (tier: RetryTier) => waitMs <= tier.delayMs * (1 + jitter)
  if (covers(scheduled)) return { tier: scheduled, waitMs }
  let shortestCovering: RetryTier | undefined
  let longest = scheduled
  for (const tier of tiers) {
    if (tier.delayMs > longest.delayMs) longest = tier
    if (covers(tier) && (shortestCovering === undefined || tier.delayMs < shortestCovering.delayMs)) shortestCovering = tier
  }
  return shortestCovering ? { tier: shortestCovering, waitMs } : { tier: longest, waitMs: longest.delayMs }
}

/** The tier that holds a notification after `attemptsMade` attempts (undefined: schedule exhausted). */
export function tierAfter(tiers: readonly RetryTier[], scheduleMs: readonly number[], attemptsMade: number): RetryTier | undefined {
  const delay = scheduleMs[attemptsMade - 1]
  return delay === undefined ? undefined : tiers.find((tier) => tier.delayMs === delay)
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP-date; undefined if absent or malformed. */
export function parseRetryAfter(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text)
  if (!HTTP_DATE.test(text)) return undefined
  const dateMs = Date.parse(text)
  if (Number.isNaN(dateMs)) return undefined
  return Math.max(0, Math.ceil((dateMs - nowMs) / 1000))
}

/** IMF-fixdate, the HTTP-date form senders must use (RFC 9110 §5.6.7): "Fri, 27 Nov 2026 12:01:00 GMT". */
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max)
}
