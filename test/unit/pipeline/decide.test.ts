// Every branch of decide(), the settlement decision, with time and randomness given.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { answerToStatus } from '../../../src/delivery/answers.ts'
import type { AttemptOutcome } from '../../../src/delivery/transport.ts'
import { DeliveryError, ErrorCodes } from '../../../src/errors.ts'
import { retryTiers } from '../../../src/names.ts'
import { FIRST_TIME, decide, type Decision, type Happening, type History, type RetrySchedule } from '../../../src/pipeline/decide.ts'

const scheduleMs = [5000, 30_000, 120_000]
const schedule: RetrySchedule = { policy: { scheduleMs, jitter: 0.2, slowDownFloorMs: 60_000 }, tiers: retryTiers('g', scheduleMs) }
const NOW = 1_800_000_000_000
const middle = () => 0.5 // no jitter

const attempted = (outcome: AttemptOutcome, startedAt = NOW - 40): Happening => ({ kind: 'attempted', outcome, startedAt })
const ok = (statusCode = 200): AttemptOutcome => ({ ok: true, answer: 'success', statusCode, durationMs: 40 })
const failed = (error: DeliveryError): AttemptOutcome => ({ ok: false, answer: answerToStatus(error.statusCode ?? 0), error, durationMs: 40 })
const status = (code: number, retryAfterSeconds?: number) =>
  new DeliveryError(code === 410 ? ErrorCodes.DELIVERY_GONE : ErrorCodes.DELIVERY_HTTP_STATUS, `callback answered ${code}`, code !== 410, { statusCode: code, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) })
const refused = (reason: 'circuit-open' | 'saturated', retryAt = NOW): Happening => ({ kind: 'refused', reason, retryAt, destination: 'https://client.example' })
const history = (attempts: number, deferrals = 0, firstAttemptAt: number | undefined = NOW - 60_000): History => ({ attempts, deferrals, firstAttemptAt })

function expectKind<K extends Decision['kind']>(decision: Decision, kind: K): Extract<Decision, { kind: K }> {
  assert.equal(decision.kind, kind, JSON.stringify(decision))
  return decision as Extract<Decision, { kind: K }>
}

describe('decide after an attempt', () => {
  it('a 2xx is delivered, counting the attempt and remembering when the first one started', () => {
    const decision = expectKind(decide(attempted(ok(204), NOW - 40), FIRST_TIME, schedule, NOW, middle), 'delivered')
    assert.equal(decision.statusCode, 204)
    assert.deepEqual(decision.history, { attempts: 1, deferrals: 0, firstAttemptAt: NOW - 40 })
  })

  it('a later attempt keeps the first attempt time and the deferrals', () => {
    const decision = expectKind(decide(attempted(ok()), history(2, 3), schedule, NOW, middle), 'delivered')
    assert.deepEqual(decision.history, { attempts: 3, deferrals: 3, firstAttemptAt: NOW - 60_000 })
  })

  it('a retryable failure goes to the tier of the attempt count, due after its delay', () => {
    const first = expectKind(decide(attempted(failed(status(503))), FIRST_TIME, schedule, NOW, middle), 'retry')
    assert.equal(first.tier.delayMs, 5000)
    assert.equal(first.dueAt, NOW + 5000)
    assert.equal(first.error.statusCode, 503)
    const second = expectKind(decide(attempted(failed(status(503))), history(1), schedule, NOW, middle), 'retry')
    assert.equal(second.tier.delayMs, 30_000)
    assert.equal(second.history.attempts, 2)
  })

  it('jitter moves the due time within ±20 %', () => {
    const low = expectKind(decide(attempted(failed(status(500))), FIRST_TIME, schedule, NOW, () => 0), 'retry')
    const high = expectKind(decide(attempted(failed(status(500))), FIRST_TIME, schedule, NOW, () => 0.999_999), 'retry')
    assert.equal(low.dueAt, NOW + 4000)
    assert.equal(high.dueAt, NOW + 6000)
  })

  it('a 429 waits at least the slow-down floor, in the shortest tier that covers it (not the 5 s tier, where it would hold back the records behind it)', () => {
    const decision = expectKind(decide(attempted(failed(status(429))), FIRST_TIME, schedule, NOW, middle), 'retry')
    assert.equal(decision.dueAt, NOW + 60_000)
    assert.equal(decision.tier.delayMs, 120_000)
  })

  it('a wait longer than the longest tier is cut to that tier: no record waits in a tier past its delay', () => {
    const short: RetrySchedule = { policy: { scheduleMs: [1000, 2000, 4000], jitter: 0.2, slowDownFloorMs: 60_000 }, tiers: retryTiers('g', [1000, 2000, 4000]) }
    const decision = expectKind(decide(attempted(failed(status(429))), FIRST_TIME, short, NOW, middle), 'retry')
    assert.equal(decision.tier.delayMs, 4000)
    assert.equal(decision.dueAt, NOW + 4000)
    assert.equal(decision.history.attempts, 1)
  })

  it('a final failure (410) is given up at once, naming the attempts', () => {
    const decision = expectKind(decide(attempted(failed(status(410))), FIRST_TIME, schedule, NOW, middle), 'give-up')
    assert.equal(decision.error.code, ErrorCodes.DELIVERY_GONE)
    assert.equal(decision.reason, 'delivery given up after 1 attempt(s): callback answered 410')
    assert.equal(decision.history.attempts, 1)
  })

  it('a retryable failure after the whole schedule is given up', () => {
    const decision = expectKind(decide(attempted(failed(status(503))), history(3), schedule, NOW, middle), 'give-up')
    assert.equal(decision.reason, 'delivery given up after 4 attempt(s): callback answered 503')
    assert.equal(decision.error.statusCode, 503)
  })

  it('a retry the policy allows but no tier holds is given up, not lost', () => {
    const noTiers: RetrySchedule = { ...schedule, tiers: [] }
    expectKind(decide(attempted(failed(status(503))), FIRST_TIME, noTiers, NOW, middle), 'give-up')
  })
})

describe('decide after the origin refused', () => {
  it('defers to the tier of its deferral count without using an attempt', () => {
    const decision = expectKind(decide(refused('circuit-open'), history(2, 0), schedule, NOW), 'retry')
    assert.deepEqual(decision.history, { attempts: 2, deferrals: 1, firstAttemptAt: NOW - 60_000 })
    assert.equal(decision.tier.delayMs, 5000)
    assert.equal(decision.dueAt, NOW + 5000)
    assert.equal(decision.error.code, ErrorCodes.CALLBACK_UNAVAILABLE)
    assert.equal(decision.error.message, 'callback origin https://client.example has its circuit open (repeated failures)')
  })

  it('waits until the origin says it may take work again when that is later than the tier, in a tier that covers the wait', () => {
    const decision = expectKind(decide(refused('saturated', NOW + 9000), FIRST_TIME, schedule, NOW), 'retry')
    assert.equal(decision.dueAt, NOW + 9000)
    assert.equal(decision.tier.delayMs, 30_000)
    assert.equal(decision.history.deferrals, 1, 'one deferral, whichever tier holds it')
    assert.match(decision.error.message, /is saturated \(slow answers\)$/)
    assert.equal(decision.history.firstAttemptAt, NOW, 'a first refusal starts the clock')
  })

  it('deferred for the whole schedule, then given up', () => {
    let current: History = FIRST_TIME
    const tiers: number[] = []
    for (;;) {
      const decision = decide(refused('circuit-open'), current, schedule, NOW)
      if (decision.kind !== 'retry') {
        const givenUp = expectKind(decision, 'give-up')
        assert.deepEqual(tiers, scheduleMs, 'one deferral per delay of the schedule')
        assert.equal(givenUp.error.code, ErrorCodes.CALLBACK_UNAVAILABLE)
        assert.equal(givenUp.error.canRetry, false)
        assert.equal(givenUp.reason, 'delivery given up: callback origin https://client.example has its circuit open (repeated failures) for longer than the retry schedule')
        assert.deepEqual(givenUp.history, { attempts: 0, deferrals: 4, firstAttemptAt: NOW })
        return
      }
      tiers.push(decision.tier.delayMs)
      current = decision.history
    }
  })

  it('a circuit open for longer than the longest tier: due after that tier\'s delay, refused again then (counted)', () => {
    const decision = expectKind(decide(refused('circuit-open', NOW + 600_000), history(1, 1), schedule, NOW), 'retry')
    assert.equal(decision.tier.delayMs, 120_000)
    assert.equal(decision.dueAt, NOW + 120_000)
    assert.equal(decision.history.deferrals, 2)
  })

  it('deferrals and attempts walk the schedule apart', () => {
    const afterAttempts = history(3, 0)
    expectKind(decide(refused('circuit-open'), afterAttempts, schedule, NOW), 'retry')
    const afterDeferrals = history(0, 3)
    expectKind(decide(attempted(failed(status(503))), afterDeferrals, schedule, NOW, middle), 'retry')
  })
})

describe('decide when the origin holds us off or its rate-limit slot is later', () => {
  it('a Retry-After hold is a deferral like an open circuit: counted, due no earlier than the hold', () => {
    const held: Happening = { kind: 'refused', reason: 'held', retryAt: NOW + 20_000, destination: 'https://client.example' }
    const decision = expectKind(decide(held, history(1, 0), schedule, NOW, middle), 'retry')
    assert.equal(decision.history.deferrals, 1)
    assert.equal(decision.dueAt, NOW + 20_000)
    assert.equal(decision.error.code, ErrorCodes.CALLBACK_UNAVAILABLE)
    assert.match(decision.error.message, /Retry-After/)
  })

  it('a later slot waits in the shortest tier at least that long, due at the slot, with the slot kept', () => {
    const slot = (waitMs: number): Happening => ({ kind: 'slot-later', slotAt: NOW + waitMs, destination: 'https://client.example' })
    const soon = expectKind(decide(slot(3000), FIRST_TIME, schedule, NOW, middle), 'retry')
    assert.equal(soon.tier.delayMs, 5000)
    assert.equal(soon.dueAt, NOW + 3000)
    assert.equal(soon.reservedSlot, true)
    assert.equal(soon.error.code, ErrorCodes.CALLBACK_RATE_LIMITED)
    assert.deepEqual(soon.history, { attempts: 0, deferrals: 0, firstAttemptAt: undefined }, 'neither an attempt nor a deferral is counted')
    assert.equal(expectKind(decide(slot(6000), FIRST_TIME, schedule, NOW, middle), 'retry').tier.delayMs, 30_000)
    assert.equal(expectKind(decide(slot(3_600_000), FIRST_TIME, schedule, NOW, middle), 'retry').tier.delayMs, 120_000, 'longer than every tier: the longest')
  })
})
