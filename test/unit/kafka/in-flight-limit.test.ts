import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_IN_FLIGHT_LIMIT, InFlightLimit, OutsideWaits, type InFlightLimitOptions } from '../../../src/kafka/in-flight-limit.ts'

const options: InFlightLimitOptions = { ...DEFAULT_IN_FLIGHT_LIMIT, max: 1000 }
const PERIOD_MS = options.periodMs

/** The event loop's idle time, as the test moves it (the limit reads it once a period). */
class FakeLoop {
  idleMs = 0
  readonly idle = (): number => this.idleMs
}

/** A loop whose event loop is always busy. */
const saturated = (): number => 0

interface Model {
  /** What a record waits on its origin. */
  outsideMs: number
  /** What a record takes of our own work (claim, settle, outcome record): 5 ms unless said. */
  ownMs?: number
  /** Records the process's CPU can finish a second: what the event loop is busy with is the share used. */
  capacityPerS: number
}

/**
 * One period of a loop held at its limit, modelled by Little's law: `limit` records in flight,
 * each waiting `outsideMs` on its origin and `ownMs` on our own work, while the process can finish
 * at most `capacityPerS` a second. Beyond what the origins need, records only queue inside.
 * Returns the event loop's busy share in the period.
 */
function heldPeriod(limit: InFlightLimit, loop: FakeLoop, now: number, model: Model): number {
  const inFlight = limit.value
  const perS = Math.min(model.capacityPerS, (inFlight * 1000) / (model.outsideMs + (model.ownMs ?? 5)))
  const busy = perS / model.capacityPerS
  const stayMs = (inFlight * 1000) / perS
  const finished = Math.round((perS * PERIOD_MS) / 1000)
  for (let i = 1; i <= finished; i++) {
    loop.idleMs += ((1 - busy) * PERIOD_MS) / finished
    limit.finished(stayMs, model.outsideMs, true, now + (i * PERIOD_MS) / finished)
  }
  return busy
}

function run(limit: InFlightLimit, loop: FakeLoop, periods: number, model: Model, from = 0): { now: number; values: number[]; busy: number[] } {
  let now = from
  const values: number[] = []
  const busy: number[] = []
  for (let i = 0; i < periods; i++) {
    busy.push(heldPeriod(limit, loop, now, model))
    now += PERIOD_MS
    values.push(limit.value)
  }
  return { now, values, busy }
}

/** One period of `count` records finished, each `stayMs` in flight and `outsideMs` of it outside, the event loop `busy` (0–1). */
function period(limit: InFlightLimit, loop: FakeLoop, now: number, record: { count: number; stayMs: number; outsideMs: number; busy: number; held?: boolean }): number {
  for (let i = 1; i <= record.count; i++) {
    loop.idleMs += ((1 - record.busy) * PERIOD_MS) / record.count
    limit.finished(record.stayMs, record.outsideMs, record.held ?? true, now + (i * PERIOD_MS) / record.count)
  }
  return now + PERIOD_MS
}

/** A limit grown to max by slow origins (50 ms answers, plenty of CPU). */
function grownToMax(): { limit: InFlightLimit; loop: FakeLoop; now: number } {
  const loop = new FakeLoop()
  const limit = new InFlightLimit(options, 0, loop.idle)
  const { now } = run(limit, loop, 6, { outsideMs: 50, capacityPerS: 100_000 })
  assert.equal(limit.value, 1000)
  return { limit, loop, now }
}

describe('InFlightLimit', () => {
  it('starts at min and, while records wait on slow origins, grows up to ×2 per period to max', () => {
    const loop = new FakeLoop()
    const limit = new InFlightLimit(options, 0, loop.idle)
    assert.equal(limit.value, 128)
    // 50 ms origins, plenty of CPU: every record more in flight is more delivered.
    const { values } = run(limit, loop, 6, { outsideMs: 50, capacityPerS: 100_000 })
    // 128 in flight / 55 ms each = 2.3 a ms; × (50 + 10 ms allowance) × 1.5 headroom = 210 needed.
    assert.equal(values[0], 210)
    for (let i = 1; i < 4; i++) assert.ok(values[i]! >= values[i - 1]! * 1.5, `grows: ${values.join(',')}`)
    assert.equal(values.at(-1), 1000, 'capped at max')
  })

  it('shrinks to what keeps the origins busy when records only queue inside the process', () => {
    // Grown to max while origins were slow …
    const { limit, loop, now: grown } = grownToMax()
    // … then they answer at once and the CPU is what limits: 12,000/s whatever is in flight (busy 100 %).
    const model = { outsideMs: 0, capacityPerS: 12_000 }
    const { values, busy } = run(limit, loop, 40, model, grown)
    assert.ok(busy.every((share) => share === 1))
    for (let i = 1; i < values.length; i++) assert.ok(values[i]! >= Math.floor(values[i - 1]! * 0.8), `at most ×0.8 per period: ${values.join(',')}`)
    // Needed: 12/ms × (0 + 10 ms allowance) × 1.5 headroom = 180.
    assert.ok(Math.abs(values.at(-1)! - 180) <= 10, `settles near 180: ${values.join(',')}`)
    // And back up when the origins slow down again (judged every other period: two stays of 205 ms).
    const now = run(limit, loop, 40, model, grown + 40 * PERIOD_MS).now
    assert.equal(run(limit, loop, 10, { outsideMs: 200, capacityPerS: 100_000 }, now).values.at(-1), 1000)
  })

  it('keeps the limit when the loop was not held back by it, or too few records finished', () => {
    const loop = new FakeLoop()
    const limit = new InFlightLimit(options, 0, loop.idle)
    // An idle event loop (its idle time grows with the clock), not held back by the limit.
    for (let i = 1; i <= 1000; i++) {
      loop.idleMs = i * 0.9
      limit.finished(5, 0, false, i)
    }
    assert.equal(limit.value, 128, 'not held: an idle or lightly used loop keeps its limit')
    for (let i = 1; i <= 10; i++) limit.finished(5, 50, true, 1000 + i * 100)
    assert.equal(limit.value, 128, 'held, but 10 records over 1 s say too little')
  })

  it('waits at least two mean stays before judging, so a change shows in what it measures', () => {
    const limit = new InFlightLimit(options, 0, saturated)
    // Records staying 400 ms: nothing is decided before 800 ms have passed.
    for (let i = 1; i <= 700; i++) limit.finished(400, 400, true, i)
    assert.equal(limit.value, 128, 'after 700 ms')
    limit.finished(400, 400, true, 801)
    assert.equal(limit.value, 256, 'after 800 ms: more is needed (×2 at most)')
  })

  // docs/performance.md, "Where a notification's time goes": one fast origin, our own round
  // trips ~18 ms a record where 10 were allowed, the event loop idle 11–16 % of the drain.
  it('probes up past what Little\'s law says while the event loop has idle time and the limit holds it back', () => {
    const loop = new FakeLoop()
    const limit = new InFlightLimit(options, 0, loop.idle)
    // Origins answer in 5 ms, our own work takes 25 ms: Little's law with the 10 ms allowance
    // asks for 0.75 × what is in flight, while 11,000/s of CPU need 330 in flight.
    const { values, busy } = run(limit, loop, 40, { outsideMs: 5, ownMs: 25, capacityPerS: 11_000 })
    assert.equal(values[0], 160, 'idle 61 % of the first period, held: ×1.25')
    const settled = busy.slice(20)
    const meanBusy = settled.reduce((sum, share) => sum + share, 0) / settled.length
    assert.ok(meanBusy >= 0.95, `the event loop busy ≥ 95 % once settled: ${busy.map((share) => share.toFixed(2)).join(',')}`)
    assert.ok(Math.max(...values.slice(20)) <= 450, `and no more in flight than that needs (330), plus a probe: ${values.join(',')}`)
  })

  it('keeps its limit while the event loop is nearly saturated, and shrinks it once saturated', () => {
    const { limit, loop, now: grown } = grownToMax()
    // 4 records a ms finishing, none waiting outside: Little's law needs 4 × 10 × 1.5 = 60.
    const fast = { count: 1000, stayMs: 100, outsideMs: 0 }
    let now = grown
    for (let i = 0; i < 10; i++) now = period(limit, loop, now, { ...fast, busy: 0.96 })
    assert.equal(limit.value, 1000, 'busy 96 %: neither more (the CPU is nearly used) nor less (it would idle)')
    for (let i = 0; i < 10; i++) now = period(limit, loop, now, { ...fast, busy: 0.5, held: false })
    assert.equal(limit.value, 1000, 'idle but not held back by the limit: kept')
    const values: number[] = []
    for (let i = 0; i < 30; i++) {
      now = period(limit, loop, now, { ...fast, busy: 0.99 })
      values.push(limit.value)
    }
    assert.equal(values[0], 800, 'saturated: down, at most ×0.8 a period')
    for (let i = 1; i < values.length; i++) assert.ok(values[i]! <= values[i - 1]! && values[i]! >= Math.floor(values[i - 1]! * 0.8), values.join(','))
    assert.equal(values.at(-1), 128, 'to Little\'s law (60), floored at min')
  })

  it('stays within [min, max], and moves at most ×2 up or ×0.8 down a period, whatever it is told', () => {
    let seed = 21
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    for (const max of [1000, 50]) {
      const loop = new FakeLoop()
      const limit = new InFlightLimit({ ...options, max }, 0, loop.idle)
      const min = Math.min(options.min, max)
      let now = 0
      for (let i = 0; i < 2000; i++) {
        const before = limit.value
        const outsideMs = random() < 0.3 ? 0 : random() * 500
        now = period(limit, loop, now, { count: 20 + Math.floor(random() * 3000), stayMs: outsideMs + random() * 100, outsideMs, busy: random(), held: random() < 0.8 })
        assert.ok(limit.value >= min && limit.value <= max, `${limit.value} within [${min}, ${max}]`)
        assert.ok(limit.value <= Math.max(Math.ceil(before * 2), min) && limit.value >= Math.min(Math.floor(before * 0.8), max), `${before} → ${limit.value}`)
      }
    }
  })

  it('never goes below min or above max; a max below the default min is both', () => {
    const loop = new FakeLoop()
    const small = new InFlightLimit({ ...options, max: 50 }, 0, loop.idle)
    assert.equal(small.value, 50)
    run(small, loop, 10, { outsideMs: 200, capacityPerS: 100_000 })
    assert.equal(small.value, 50)
    run(small, loop, 10, { outsideMs: 0, capacityPerS: 100 }, 3000)
    assert.equal(small.value, 50)
    const limit = new InFlightLimit(options, 0, loop.idle)
    run(limit, loop, 20, { outsideMs: 0, capacityPerS: 100 })
    assert.equal(limit.value, 128, 'a slow process with fast origins: min')
  })

  it('counts outside waits only up to the time a record was in flight', () => {
    const limit = new InFlightLimit(options, 0, saturated)
    // A record claiming to have waited longer than it stayed (clock steps): capped.
    for (let i = 1; i <= 100; i++) limit.finished(5, 10_000, true, i * 3)
    assert.ok(limit.value <= 256)
    assert.throws(() => new InFlightLimit({ ...options, headroom: 0.5 }, 0, saturated), RangeError)
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
