import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decideRetry, DEFAULT_JITTER, DEFAULT_SLOW_DOWN_FLOOR_MS, parseRetryAfter, placeWait } from '../../../src/delivery/retry-policy.ts'
import { retryTiers, type RetryTier } from '../../../src/names.ts'
import type { RetryPolicy } from '../../../src/delivery/retry-policy.ts'
import { DeliveryError, ErrorCodes } from '../../../src/errors.ts'

const SCHEDULE = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000]
const policy: RetryPolicy = { scheduleMs: SCHEDULE, jitter: DEFAULT_JITTER, slowDownFloorMs: DEFAULT_SLOW_DOWN_FLOOR_MS }
const noJitter: RetryPolicy = { ...policy, jitter: 0 }

const http503 = { answer: 'unavailable', error: new DeliveryError(ErrorCodes.DELIVERY_HTTP_STATUS, 'HTTP 503', true, { statusCode: 503 }) } as const
const mid = () => 0.5

function delayOf(decision: ReturnType<typeof decideRetry>): number {
  assert.equal(decision.retry, true)
  if (!decision.retry) throw new Error('unreachable')
  return decision.delayMs
}

describe('decideRetry: schedule', () => {
  it('uses schedule[attemptsMade - 1] for each attempt', () => {
    for (let attempts = 1; attempts <= SCHEDULE.length; attempts++) {
      assert.equal(delayOf(decideRetry(policy, attempts, http503, mid)), SCHEDULE[attempts - 1], `attempt ${attempts}`)
    }
  })

  it('is exhausted after the schedule', () => {
    assert.deepEqual(decideRetry(policy, SCHEDULE.length + 1, http503, mid), { retry: false, reason: 'exhausted' })
    assert.deepEqual(decideRetry({ ...policy, scheduleMs: [] }, 1, http503, mid), { retry: false, reason: 'exhausted' })
  })
})

describe('decideRetry: jitter', () => {
  it('stays within ±20 % of the scheduled delay', () => {
    assert.equal(delayOf(decideRetry(policy, 2, http503, () => 0)), 24_000)
    assert.equal(delayOf(decideRetry(policy, 2, http503, () => 0.999999)), 36_000)
    for (let i = 0; i < 200; i++) {
      const delay = delayOf(decideRetry(policy, 2, http503))
      assert.ok(delay >= 24_000 && delay <= 36_000, String(delay))
    }
  })

  it('varies with random', () => {
    assert.notEqual(delayOf(decideRetry(policy, 1, http503, () => 0.1)), delayOf(decideRetry(policy, 1, http503, () => 0.9)))
  })
})

describe('decideRetry: final errors', () => {
  it('treats a non-retryable error (410 Gone) as final at once', () => {
    const gone = { answer: 'gone', error: new DeliveryError(ErrorCodes.DELIVERY_GONE, 'HTTP 410', false, { statusCode: 410 }) } as const
    assert.deepEqual(decideRetry(policy, 1, gone, mid), { retry: false, reason: 'final' })
  })

  it('is final even with Retry-After when the error cannot be retried', () => {
    const gone = { answer: 'gone', error: new DeliveryError(ErrorCodes.DELIVERY_GONE, 'HTTP 410', false, { statusCode: 410, retryAfterSeconds: 10 }) } as const
    assert.deepEqual(decideRetry(policy, 1, gone, mid), { retry: false, reason: 'final' })
  })
})

describe('decideRetry: Retry-After', () => {
  const withRetryAfter = (seconds: number) =>
    ({ answer: 'unavailable', error: new DeliveryError(ErrorCodes.DELIVERY_HTTP_STATUS, 'HTTP 503', true, { statusCode: 503, retryAfterSeconds: seconds }) }) as const

  it('honours a Retry-After between 1× and 2× the scheduled delay', () => {
    assert.equal(delayOf(decideRetry(policy, 2, withRetryAfter(45), mid)), 45_000)
  })

  it('raises a short Retry-After to the scheduled delay', () => {
    assert.equal(delayOf(decideRetry(policy, 2, withRetryAfter(1), () => 0)), 30_000)
    assert.equal(delayOf(decideRetry(policy, 2, withRetryAfter(0), () => 0)), 30_000)
  })

  it('caps a long Retry-After at twice the scheduled delay', () => {
    assert.equal(delayOf(decideRetry(policy, 2, withRetryAfter(86_400), mid)), 60_000)
  })
})

describe('decideRetry: slow-down floor', () => {
  it('waits at least the floor after a 429', () => {
    const tooMany = { answer: 'tooManyRequests', error: new DeliveryError(ErrorCodes.DELIVERY_HTTP_STATUS, 'HTTP 429', true, { statusCode: 429 }) } as const
    assert.equal(delayOf(decideRetry(noJitter, 1, tooMany)), DEFAULT_SLOW_DOWN_FLOOR_MS)
  })

  it('waits at least the floor after a timeout', () => {
    const timeout = { answer: 'timeout', error: new DeliveryError(ErrorCodes.DELIVERY_TIMEOUT, 'timed out', true) } as const
    assert.equal(delayOf(decideRetry(noJitter, 1, timeout)), DEFAULT_SLOW_DOWN_FLOOR_MS)
  })

  it('applies the floor after clamping Retry-After', () => {
    const tooMany = { answer: 'tooManyRequests', error: new DeliveryError(ErrorCodes.DELIVERY_HTTP_STATUS, 'HTTP 429', true, { statusCode: 429, retryAfterSeconds: 2 }) } as const
    assert.equal(delayOf(decideRetry(noJitter, 1, tooMany)), DEFAULT_SLOW_DOWN_FLOOR_MS)
  })

  it('does not lower a scheduled delay above the floor', () => {
    const tooMany = { answer: 'tooManyRequests', error: new DeliveryError(ErrorCodes.DELIVERY_HTTP_STATUS, 'HTTP 429', true, { statusCode: 429 }) } as const
    assert.equal(delayOf(decideRetry(noJitter, 3, tooMany)), 120_000)
  })

  it('does not apply the floor to other errors', () => {
    const network = { answer: 'reset', error: new DeliveryError(ErrorCodes.DELIVERY_NETWORK, 'ECONNRESET', true) } as const
    assert.equal(delayOf(decideRetry(noJitter, 1, network)), 5_000)
  })
})

describe('placeWait: every record in a tier is due within about its delay', () => {
  const tiers = retryTiers('g', [5000, 30_000, 120_000, 30_000])
  const [fiveSeconds, thirtySeconds, twoMinutes] = tiers as [RetryTier, RetryTier, RetryTier]

  it('keeps a wait its scheduled tier covers, the jitter included', () => {
    assert.deepEqual(placeWait(tiers, fiveSeconds, 6000, 0.2), { tier: fiveSeconds, waitMs: 6000 })
    assert.deepEqual(placeWait(tiers, thirtySeconds, 1000, 0.2), { tier: thirtySeconds, waitMs: 1000 }, 'never a shorter tier than the schedule names')
  })

  it('moves a longer wait to the shortest tier that covers it, the wait kept', () => {
    assert.deepEqual(placeWait(tiers, fiveSeconds, 6001, 0.2), { tier: thirtySeconds, waitMs: 6001 })
    assert.deepEqual(placeWait(tiers, fiveSeconds, 60_000, 0.2), { tier: twoMinutes, waitMs: 60_000 })
  })

  it('cuts a wait longer than every tier to the longest tier\'s delay', () => {
    assert.deepEqual(placeWait(tiers, fiveSeconds, 600_000, 0.2), { tier: twoMinutes, waitMs: 120_000 })
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-27T12:00:00.000Z')

  it('parses delta-seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120)
    assert.equal(parseRetryAfter(' 0 ', now), 0)
  })

  it('takes the first of several header values', () => {
    assert.equal(parseRetryAfter(['30', '60'], now), 30)
  })

  it('parses an HTTP-date as seconds from now, rounded up', () => {
    assert.equal(parseRetryAfter('Fri, 27 Nov 2026 12:01:00 GMT', now), 60)
    assert.equal(parseRetryAfter('Fri, 27 Nov 2026 12:01:00 GMT', now + 500), 60)
  })

  it('gives 0 for an HTTP-date in the past', () => {
    assert.equal(parseRetryAfter('Thu, 26 Nov 2026 12:00:00 GMT', now), 0)
  })

  it('returns undefined when absent or garbage', () => {
    assert.equal(parseRetryAfter(undefined, now), undefined)
    assert.equal(parseRetryAfter([], now), undefined)
    assert.equal(parseRetryAfter('', now), undefined)
    assert.equal(parseRetryAfter('soon', now), undefined)
    assert.equal(parseRetryAfter('12abc', now), undefined)
  })

  it('returns undefined for values Date.parse would wrongly accept', () => {
    for (const value of ['1.5', '-5', 'abc 1', 'Mon, 1']) assert.equal(parseRetryAfter(value, now), undefined, value)
  })
})
