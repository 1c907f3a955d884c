import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ANSWERS } from '../../../src/delivery/answers.ts'
import { originOf } from '../../../src/delivery/http-client.ts'
import { OriginGate, type CircuitState, type GateDecision, type OriginGateOptions, type Ticket } from '../../../src/delivery/origin-gate.ts'

const concurrency = { initial: 2, min: 1, max: 8, backoff: 0.5, latencyTolerance: 2 }
const options: OriginGateOptions = { window: 4, failureThreshold: 3, openMs: 1000, maxOpenMs: 3000, concurrency, maxWaitMs: 500, unansweredAfterMs: 200, forgetAfterMs: 60_000 }
/** Answers that do not and that do count against the origin (answers.ts). */
const OK = ANSWERS.success
const FAILED = ANSWERS.serverError
const A = 'http://a.example:80'

/** An origin's circuit as the gate reports it (metrics): not listed = closed. */
function circuit(gate: OriginGate, origin: string, now: number): CircuitState {
  return gate.unhealthy(now).find((entry) => entry.origin === origin)?.state ?? 'closed'
}

/** 'ok', or why not. */
function reasonOf(decision: GateDecision): string {
  return decision.ok ? 'ok' : decision.reason
}

function ticket(decision: GateDecision): Ticket {
  assert.ok(decision.ok, `expected admission, got ${JSON.stringify(decision)}`)
  return decision.ticket
}

describe('OriginGate circuit', () => {
  it('opens after consecutive failures, refuses until openMs, then lets one trial through', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 0)), FAILED, 10, 10)
    assert.equal(circuit(gate, A, 10), 'open')
    assert.deepEqual(gate.acquire(A, 500), { ok: false, reason: 'circuit-open', retryAt: 1010, openSince: 10, lastError: '' })
    assert.equal(circuit(gate, A, 1010), 'half-open')
    const trial = ticket(gate.acquire(A, 1010))
    assert.equal(gate.acquire(A, 1011).ok, false, 'only one trial at a time')
    gate.release(trial, OK, 1020, 10)
    assert.equal(circuit(gate, A, 1020), 'closed')
    assert.equal(gate.acquire(A, 1021).ok, true)
  })

  // A starved or frozen process times out on prompt answers: that must not open, close or
  // prolong a healthy origin's circuit (soak run 4: circuits of instant origins opened).
  it('a timeout this process caused says nothing: no failure counted, a half-open trial is tried again', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 5; i++) gate.release(ticket(gate.acquire(A, 0)), ANSWERS.stalledTimeout, 10, 5000)
    assert.equal(circuit(gate, A, 10), 'closed', 'five of them open nothing')
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 20)), FAILED, 20, 10)
    assert.equal(circuit(gate, A, 20), 'open')
    const trial = ticket(gate.acquire(A, 1020))
    gate.release(trial, ANSWERS.stalledTimeout, 1030, 5000)
    assert.equal(circuit(gate, A, 1030), 'half-open', 'neither closed nor opened again for longer')
    gate.release(ticket(gate.acquire(A, 1031)), OK, 1040, 10)
    assert.equal(circuit(gate, A, 1040), 'closed', 'the next trial decides')
  })

  it('a failed trial opens the circuit again for twice as long, capped', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 0)), FAILED, 0, 10)
    gate.release(ticket(gate.acquire(A, 1000)), FAILED, 1000, 10)
    assert.deepEqual(gate.acquire(A, 2999), { ok: false, reason: 'circuit-open', retryAt: 3000, openSince: 0, lastError: '' })
    gate.release(ticket(gate.acquire(A, 3000)), FAILED, 3000, 10)
    gate.release(ticket(gate.acquire(A, 7000)), FAILED, 7000, 10)
    assert.deepEqual(gate.acquire(A, 7001), { ok: false, reason: 'circuit-open', retryAt: 10_000, openSince: 0, lastError: '' }, 'capped at maxOpenMs')
  })

  it('says since when the circuit is open, through failed trials, and the last error (for the automatic pause)', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 100)), FAILED, 100, 10, `HTTP 50${i}`)
    gate.release(ticket(gate.acquire(A, 1100)), FAILED, 1100, 10, 'timed out')
    const refused = gate.acquire(A, 1200)
    assert.ok(!refused.ok && refused.reason === 'circuit-open')
    assert.equal(refused.openSince, 100, 'open since the first opening, not the failed trial')
    assert.equal(refused.lastError, 'timed out')
    gate.release(ticket(gate.acquire(A, 3100)), OK, 3100, 10)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 5000)), FAILED, 5000, 10, 'again')
    const again = gate.acquire(A, 5001)
    assert.ok(!again.ok && again.reason === 'circuit-open' && again.openSince === 5000, 'a circuit that closed starts counting again')
  })

  it('opens on a rate of failures among recent attempts, not on a run of them', () => {
    const gate = new OriginGate(options)
    for (const answer of [FAILED, FAILED, OK, FAILED]) gate.release(ticket(gate.acquire(A, 0)), answer, 0, 10)
    assert.equal(circuit(gate, A, 0), 'open', '3 of the last 4 failed')
  })

  it('keeps serving an origin that fails often but mostly works', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 1000; i++) gate.release(ticket(gate.acquire(A, i)), i % 2 === 0 ? OK : FAILED, i, 10)
    assert.equal(circuit(gate, A, 1000), 'closed', 'half of the attempts failing stays under 3 of 4')
  })

  it('a ticket given back without an attempt changes nothing about the origin\'s health', () => {
    const gate = new OriginGate(options)
    gate.release(ticket(gate.acquire(A, 0)), FAILED, 0, 10)
    gate.release(ticket(gate.acquire(A, 0)), FAILED, 0, 10)
    gate.abandon(ticket(gate.acquire(A, 0)))
    gate.release(ticket(gate.acquire(A, 0)), FAILED, 0, 10)
    assert.equal(circuit(gate, A, 0), 'open', 'three real failures in a row, whatever was abandoned between them')
  })

  it('reports unhealthy origins only', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 0)), FAILED, 0, 10)
    gate.release(ticket(gate.acquire('http://b.example:80', 0)), OK, 0, 10)
    assert.deepEqual(gate.unhealthy(10), [{ origin: A, state: 'open' }])
  })
})

describe('OriginGate concurrency limit', () => {
  it('admits up to the origin\'s limit; above it a notification may wait while the origin answers', () => {
    const gate = new OriginGate(options)
    const first = ticket(gate.acquire(A, 0))
    ticket(gate.acquire(A, 0))
    assert.deepEqual(gate.acquire(A, 10), { ok: false, reason: 'wait', waitMs: 500 })
    gate.release(first, OK, 20, 20)
    assert.equal(gate.acquire(A, 20).ok, true, 'a slot freed by an answer')
    assert.equal(gate.acquire('http://b.example:80', 20).ok, true, 'limits are per origin')
  })

  it('refuses an origin at its limit that has answered nothing for unansweredAfterMs: a hung origin holds its limit, no more', () => {
    const gate = new OriginGate(options)
    ticket(gate.acquire(A, 0))
    ticket(gate.acquire(A, 10))
    assert.equal(gate.acquire(A, 199).ok, false)
    assert.equal(reasonOf(gate.acquire(A, 199)), 'wait', 'quiet for 199 ms only')
    assert.deepEqual(gate.acquire(A, 200), { ok: false, reason: 'saturated', retryAt: 700 })
  })

  it('counts the quiet time from the last answer', () => {
    const gate = new OriginGate(options)
    const first = ticket(gate.acquire(A, 0))
    ticket(gate.acquire(A, 0))
    gate.release(first, OK, 150, 150)
    ticket(gate.acquire(A, 150))
    assert.equal(gate.acquire(A, 300).ok, true, 'answered 150 ms ago; the limit grew to 3 (slow start)')
    assert.equal(reasonOf(gate.acquire(A, 340)), 'wait', 'answered 190 ms ago')
    assert.equal(reasonOf(gate.acquire(A, 350)), 'saturated', 'answered 200 ms ago')
  })

  it('lets only as many wait as are likely to get a slot within maxWaitMs; the others are refused', () => {
    const gate = new OriginGate({ ...options, concurrency: { ...concurrency, initial: 4 }, unansweredAfterMs: 10_000, failureThreshold: 100, window: 100 })
    const [first, second, third] = [ticket(gate.acquire(A, 0)), ticket(gate.acquire(A, 0)), ticket(gate.acquire(A, 0)), ticket(gate.acquire(A, 0))]
    gate.release(first, OK, 100, 100)
    ticket(gate.acquire(A, 100))
    ticket(gate.acquire(A, 100))
    // Slow start: the limit (5) doubles every round trip, so within 500 ms it is at the cap (8):
    // 8 slots per 100 ms round trip, 40 within 500 ms.
    assert.equal(reasonOf(gate.acquire(A, 100, 39)), 'wait', '40th in line')
    assert.deepEqual(gate.acquire(A, 100, 40), { ok: false, reason: 'saturated', retryAt: 600 }, '41st in line')
    // A timeout ends slow start and halves the limit: 2 slots per 100 ms, 10 within 500 ms.
    gate.release(second, FAILED, 100, 100)
    assert.equal(reasonOf(gate.acquire(A, 100, 9)), 'wait', '10th in line')
    assert.equal(reasonOf(gate.acquire(A, 100, 10)), 'saturated', '11th in line')
    // Answers slow down: 2 slots per ~280 ms (the smoothed round trip after a 1 s answer), 3 within 500 ms.
    gate.release(third, OK, 1100, 1000)
    assert.equal(reasonOf(gate.acquire(A, 1100, 2)), 'wait', '3rd in line')
    assert.equal(reasonOf(gate.acquire(A, 1100, 3)), 'saturated', '4th in line')
  })

  it('before an origin first answers, any number may wait until it has been quiet for unansweredAfterMs', () => {
    const gate = new OriginGate(options)
    ticket(gate.acquire(A, 0))
    ticket(gate.acquire(A, 0))
    assert.equal(reasonOf(gate.acquire(A, 150, 10_000)), 'wait', 'no round-trip time yet: a burst at start waits')
    assert.equal(gate.quiet(A, 150), false)
    assert.equal(reasonOf(gate.acquire(A, 200, 0)), 'saturated')
    assert.equal(gate.quiet(A, 200), true)
  })

  it('never refuses a fast origin however many notifications go to it', () => {
    const gate = new OriginGate(options)
    const inFlight: Ticket[] = []
    let waited = 0
    // 2 s, a notification every ms, each answered 5 ms after it started; those over the limit wait for the next answer.
    const started = new Map<Ticket, number>()
    for (let t = 0; t < 2000; t++) {
      while (inFlight.length > 0 && (started.get(inFlight[0] as Ticket) as number) + 5 <= t) {
        const done = inFlight.shift() as Ticket
        gate.release(done, OK, t, 5)
      }
      const decision = gate.acquire(A, t)
      assert.notEqual(reasonOf(decision), 'saturated', `at ${t} ms`)
      if (decision.ok) {
        inFlight.push(decision.ticket)
        started.set(decision.ticket, t)
      } else waited++
    }
    assert.ok(waited < 20, `${waited} had to wait: the limit grew to what the origin takes (5 in flight)`)
  })

  it('grows the limit of an origin that answers well, up to the cap', () => {
    const gate = new OriginGate(options)
    let now = 0
    for (let round = 0; round < 20; round++) {
      const tickets: Ticket[] = []
      for (let decision = gate.acquire(A, now); decision.ok; decision = gate.acquire(A, now)) tickets.push(decision.ticket)
      now += 50
      for (const done of tickets) gate.release(done, OK, now, 50)
    }
    const admitted: Ticket[] = []
    for (let decision = gate.acquire(A, now); decision.ok; decision = gate.acquire(A, now)) admitted.push(decision.ticket)
    assert.equal(admitted.length, 8, 'the cap')
    assert.deepEqual(gate.limits(), [{ origin: A, limit: 8 }])
  })

  it("an origin's own ceiling (its destination's max_connections) caps its limit; others keep the default cap; a changed ceiling applies at the next admission", () => {
    const B = 'http://b.example:80'
    const ceilings = new Map([[A, 3]])
    const gate = new OriginGate({ ...options, maxConcurrencyOf: (origin) => ceilings.get(origin) })
    const grow = (origin: string) => {
      let now = 0
      for (let round = 0; round < 20; round++) {
        const tickets: Ticket[] = []
        for (let decision = gate.acquire(origin, now); decision.ok; decision = gate.acquire(origin, now)) tickets.push(decision.ticket)
        now += 50
        for (const done of tickets) gate.release(done, OK, now, 50)
      }
      const admitted: Ticket[] = []
      for (let decision = gate.acquire(origin, now); decision.ok; decision = gate.acquire(origin, now)) admitted.push(decision.ticket)
      for (const done of admitted) gate.abandon(done)
      return admitted.length
    }
    assert.equal(grow(A), 3)
    assert.equal(grow(B), 8)
    ceilings.set(A, 1)
    assert.equal(grow(A), 1, 'lowered by a reload')
    ceilings.set(A, 16)
    assert.equal(grow(A), 16, 'raised above the default cap')
  })

  it('shrinks the limit on timeouts, 429 and 5xx, once per round trip', () => {
    const gate = new OriginGate({ ...options, concurrency: { ...concurrency, initial: 8 }, failureThreshold: 100, window: 100 })
    const tickets = Array.from({ length: 8 }, () => ticket(gate.acquire(A, 0)))
    for (const [i, done] of tickets.entries()) gate.release(done, FAILED, 5000 + i, 5000)
    assert.deepEqual(gate.limits(), [{ origin: A, limit: 4 }], 'eight timeouts of one round: halved once')
    const next = Array.from({ length: 4 }, () => ticket(gate.acquire(A, 5100)))
    assert.equal(gate.acquire(A, 5100).ok, false, 'at the new limit')
    gate.release(next[0] as Ticket, FAILED, 5200, 100)
    assert.deepEqual(gate.limits(), [{ origin: A, limit: 2 }], 'an attempt started after the decrease: halved again')
  })

  it('forgets an idle origin\'s learned limit after forgetAfterMs', () => {
    const gate = new OriginGate({ ...options, forgetAfterMs: 1000 })
    gate.release(ticket(gate.acquire(A, 0)), FAILED, 10, 10)
    assert.deepEqual(gate.limits(), [{ origin: A, limit: 1 }])
    gate.acquire('http://b.example:80', 500)
    assert.deepEqual(gate.limits(), [{ origin: A, limit: 1 }], 'idle for 490 ms')
    gate.acquire('http://b.example:80', 1100)
    assert.deepEqual(gate.limits(), [], 'idle for 1090 ms: starts again from the initial limit')
  })

  it('keys circuits by scheme, host and port', () => {
    assert.equal(originOf('https://client.example/hooks/1?x=1'), 'https://client.example')
    assert.equal(originOf('http://127.0.0.2:8080/a'), 'http://127.0.0.2:8080')
  })
})

describe('OriginGate reset (an operator resumed the origin)', () => {
  it('closes an open circuit and forgets its failures at once', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 0)), FAILED, 0, 10)
    assert.equal(gate.acquire(A, 10).ok, false)
    gate.reset(A)
    assert.equal(circuit(gate, A, 10), 'closed')
    gate.release(ticket(gate.acquire(A, 10)), FAILED, 10, 10)
    gate.release(ticket(gate.acquire(A, 10)), FAILED, 10, 10)
    assert.equal(circuit(gate, A, 10), 'closed', 'the old failures no longer count')
  })
})
