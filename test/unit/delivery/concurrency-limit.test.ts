import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConcurrencyLimit, DEFAULT_CONCURRENCY_LIMIT, concurrencyLimitUpTo, type ConcurrencyLimitOptions } from '../../../src/delivery/concurrency-limit.ts'

const options: ConcurrencyLimitOptions = { initial: 10, min: 2, max: 100, backoff: 0.5, latencyTolerance: 2 }

/** One round trip under load: `limit` attempts started at `now`, answered after `rttMs`, each replaced at once by the next. */
function round(limit: ConcurrencyLimit, now: number, rttMs: number, healthy = true): number {
  const count = limit.value
  for (let i = 0; i < count; i++) {
    const answer = { startedAt: now, durationMs: rttMs, inFlight: limit.value }
    if (healthy) limit.answered(answer)
    else limit.overloaded(answer, now + rttMs)
  }
  return now + rttMs
}

describe('ConcurrencyLimit', () => {
  it('starts at initial; slow start doubles it per round trip while the origin answers well', () => {
    const limit = new ConcurrencyLimit(options)
    assert.equal(limit.value, 10)
    assert.equal(limit.pristine, true)
    let now = round(limit, 0, 50)
    assert.equal(limit.value, 20, 'after one round')
    now = round(limit, now, 50)
    now = round(limit, now, 50)
    round(limit, now, 50)
    assert.equal(limit.value, 100, 'capped at max')
    assert.equal(limit.pristine, false)
  })

  it('halves on overload once per round trip, then grows by about one per round trip', () => {
    const limit = new ConcurrencyLimit({ ...options, initial: 64 })
    let now = round(limit, 0, 50, false)
    assert.equal(limit.value, 32, '64 failures of one round: one decrease')
    now = round(limit, now, 50, false)
    assert.equal(limit.value, 16, 'the next round, started after the decrease: another')
    for (let i = 0; i < 4; i++) now = round(limit, now, 50)
    // (a number again: the asserts above narrowed limit.value to 16)
    const grown: number = limit.value
    assert.ok(grown >= 19 && grown <= 20, `four good rounds after a decrease add ~4, got ${grown}`)
  })

  it('reaches the cap soon while in slow start; after a decrease, only the limit itself', () => {
    const limit = new ConcurrencyLimit(options)
    assert.equal(limit.reachable, 100)
    round(limit, 0, 50, false)
    assert.equal(limit.reachable, 5)
  })

  it('never goes below min', () => {
    const limit = new ConcurrencyLimit(options)
    let now = 0
    for (let i = 0; i < 10; i++) now = round(limit, now, 10_000, false)
    assert.equal(limit.value, 2)
  })

  it('does not grow while the limit is not used (an idle origin earns nothing)', () => {
    const limit = new ConcurrencyLimit(options)
    for (let i = 0; i < 1000; i++) limit.answered({ startedAt: i, durationMs: 20, inFlight: 4 })
    assert.equal(limit.value, 10, '4 in flight of 10')
    limit.answered({ startedAt: 1000, durationMs: 20, inFlight: 5 })
    assert.equal(limit.value, 11, 'half of it in flight: used')
  })

  it('stops growing while latency rises well above its long-run level, and grows again once it holds', () => {
    const limit = new ConcurrencyLimit({ ...options, max: 10_000 })
    let now = 0
    for (let i = 0; i < 200; i++) limit.answered({ startedAt: now++, durationMs: 50, inFlight: limit.value })
    const before = limit.value
    // Answers suddenly take 500 ms: the client is queueing.
    for (let i = 0; i < 20; i++) limit.answered({ startedAt: now++, durationMs: 500, inFlight: limit.value })
    assert.ok(limit.value - before <= 2, `grew by ${limit.value - before} while latency rose tenfold`)
    const held = limit.value
    for (let i = 0; i < 300; i++) limit.answered({ startedAt: now++, durationMs: 500, inFlight: limit.value })
    assert.ok(limit.value > held, 'the long-run level caught up: 500 ms is the new normal')
  })

  it('ignores latency differences of a few ms (our event loop, not the origin)', () => {
    const limit = new ConcurrencyLimit({ ...options, max: 10_000 })
    for (let i = 0; i < 100; i++) limit.answered({ startedAt: i, durationMs: 1, inFlight: limit.value })
    const before = limit.value
    for (let i = 0; i < 10; i++) limit.answered({ startedAt: 100 + i, durationMs: 5, inFlight: limit.value })
    assert.ok(limit.value > before, '1 ms → 5 ms still grows')
  })

  it('smooths the round-trip time it reports', () => {
    const limit = new ConcurrencyLimit(options)
    assert.equal(limit.rttMs, 0, 'unknown before the first answer')
    limit.answered({ startedAt: 0, durationMs: 100, inFlight: 1 })
    assert.equal(limit.rttMs, 100)
    limit.answered({ startedAt: 0, durationMs: 200, inFlight: 1 })
    assert.ok(limit.rttMs > 100 && limit.rttMs < 200)
  })

  it('refuses bounds that contradict each other', () => {
    assert.throws(() => new ConcurrencyLimit({ ...options, min: 20 }), RangeError)
    assert.throws(() => new ConcurrencyLimit({ ...options, max: 5 }), RangeError)
    assert.throws(() => new ConcurrencyLimit({ ...options, min: 0 }), RangeError)
  })

  it('a cap below the defaults lowers where the limit starts and its floor', () => {
    assert.deepEqual(concurrencyLimitUpTo(4), { ...DEFAULT_CONCURRENCY_LIMIT, initial: 4, min: 4, max: 4 })
    assert.deepEqual(concurrencyLimitUpTo(16), { ...DEFAULT_CONCURRENCY_LIMIT, initial: 16, min: 8, max: 16 })
    assert.deepEqual(concurrencyLimitUpTo(1000), { ...DEFAULT_CONCURRENCY_LIMIT, max: 1000 })
    assert.doesNotThrow(() => new ConcurrencyLimit(concurrencyLimitUpTo(1)))
  })
})
