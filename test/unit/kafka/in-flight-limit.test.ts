import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_IN_FLIGHT_LIMIT, InFlightLimit, OutsideWaits, type InFlightLimitOptions } from '../../../src/kafka/in-flight-limit.ts'

const options: InFlightLimitOptions = { ...DEFAULT_IN_FLIGHT_LIMIT, max: 1000 }
const PERIOD_MS = options.periodMs

/**
 * One period of a loop held at its limit, modelled by Little's law: `limit` records in flight,
 * each waiting `outsideMs` on its origin and 5 ms on our own work, while the process can finish
 * at most `capacityPerS` a second. Beyond what the origins need, records only queue inside.
 */
function heldPeriod(limit: InFlightLimit, now: number, outsideMs: number, capacityPerS: number): number {
  const inFlight = limit.value
  const perS = Math.min(capacityPerS, (inFlight * 1000) / (outsideMs + 5))
  const stayMs = (inFlight * 1000) / perS
  const finished = Math.round((perS * PERIOD_MS) / 1000)
  for (let i = 1; i <= finished; i++) limit.finished(stayMs, outsideMs, true, now + (i * PERIOD_MS) / finished)
  return now + PERIOD_MS
}

function run(limit: InFlightLimit, periods: number, outsideMs: number, capacityPerS: number, from = 0): { now: number; values: number[] } {
  let now = from
  const values: number[] = []
  for (let i = 0; i < periods; i++) {
    now = heldPeriod(limit, now, outsideMs, capacityPerS)
    values.push(limit.value)
  }
  return { now, values }
}

describe('InFlightLimit', () => {
  it('starts at min and, while records wait on slow origins, grows up to ×2 per period to max', () => {
    const limit = new InFlightLimit(options, 0)
    assert.equal(limit.value, 128)
    // 50 ms origins, plenty of CPU: every record more in flight is more delivered.
    const { values } = run(limit, 6, 50, 100_000)
    // 128 in flight / 55 ms each = 2.3 a ms; × (50 + 10 ms allowance) × 1.5 headroom = 210 needed.
    assert.equal(values[0], 210)
    for (let i = 1; i < 4; i++) assert.ok(values[i]! >= values[i - 1]! * 1.5, `grows: ${values.join(',')}`)
    assert.equal(values.at(-1), 1000, 'capped at max')
  })

  it('shrinks to what keeps the origins busy when records only queue inside the process', () => {
    const limit = new InFlightLimit(options, 0)
    // Grown to max while origins were slow …
    let { now } = run(limit, 6, 50, 100_000)
    assert.equal(limit.value, 1000)
    // … then they answer at once and the CPU is what limits: 12,000/s whatever is in flight.
    const { values } = run(limit, 40, 0, 12_000, now)
    for (let i = 1; i < values.length; i++) assert.ok(values[i]! >= Math.floor(values[i - 1]! * 0.8), `at most ×0.8 per period: ${values.join(',')}`)
    // Needed: 12/ms × (0 + 10 ms allowance) × 1.5 headroom = 180.
    assert.ok(Math.abs(values.at(-1)! - 180) <= 10, `settles near 180: ${values.join(',')}`)
    // And back up when the origins slow down again.
    now = run(limit, 40, 0, 12_000, now).now
    assert.equal(run(limit, 6, 200, 100_000, now).values.at(-1), 1000)
  })

  it('keeps the limit when the loop was not held back by it, or too few records finished', () => {
    const limit = new InFlightLimit(options, 0)
    for (let i = 1; i <= 1000; i++) limit.finished(5, 0, false, i)
    assert.equal(limit.value, 128, 'not held: an idle or lightly used loop keeps its limit')
    for (let i = 1; i <= 10; i++) limit.finished(5, 50, true, 1000 + i * 100)
    assert.equal(limit.value, 128, 'held, but 10 records over 1 s say too little')
  })

  it('waits at least two mean stays before judging, so a change shows in what it measures', () => {
    const limit = new InFlightLimit(options, 0)
    // Records staying 400 ms: nothing is decided before 800 ms have passed.
    for (let i = 1; i <= 700; i++) limit.finished(400, 400, true, i)
    assert.equal(limit.value, 128, 'after 700 ms')
    limit.finished(400, 400, true, 801)
    assert.equal(limit.value, 256, 'after 800 ms: more is needed (×2 at most)')
  })

  it('never goes below min or above max; a max below the default min is both', () => {
    const small = new InFlightLimit({ ...options, max: 50 }, 0)
    assert.equal(small.value, 50)
    run(small, 10, 200, 100_000)
    assert.equal(small.value, 50)
    run(small, 10, 0, 100, 3000)
    assert.equal(small.value, 50)
    const limit = new InFlightLimit(options, 0)
    run(limit, 20, 0, 100)
    assert.equal(limit.value, 128, 'a slow process with fast origins: min')
  })

  it('counts outside waits only up to the time a record was in flight', () => {
    const limit = new InFlightLimit(options, 0)
    // A record claiming to have waited longer than it stayed (clock steps): capped.
    for (let i = 1; i <= 100; i++) limit.finished(5, 10_000, true, i * 3)
    assert.ok(limit.value <= 256)
    assert.throws(() => new InFlightLimit({ ...options, headroom: 0.5 }, 0), RangeError)
  })
})

describe('OutsideWaits', () => {
  it('adds up the waits it brackets, and tells one under way for long', () => {
    const waits = new OutsideWaits()
    waits.begin(100)
    assert.equal(waits.waitingLongerThan(1000, 1100), false)
    assert.equal(waits.waitingLongerThan(1000, 1101), true)
    waits.end(1150)
    waits.end(2000) // no wait under way: nothing added
    waits.begin(3000)
    waits.end(3020)
    assert.equal(waits.outsideMs, 1070)
    assert.equal(waits.waitingLongerThan(0, 5000), false)
  })
})
