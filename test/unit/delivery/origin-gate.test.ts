import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { OriginGate, originOf, type CircuitState, type GateDecision, type Ticket } from '../../../src/delivery/origin-gate.ts'

const options = { window: 4, failureThreshold: 3, openMs: 1000, maxOpenMs: 3000, saturatedInFlight: 2, slowAfterMs: 500, unansweredAfterMs: 200 }
const A = 'http://a.example:80'

/** An origin's circuit as the gate reports it (metrics): not listed = closed. */
function circuit(gate: OriginGate, origin: string, now: number): CircuitState {
  return gate.unhealthy(now).find((entry) => entry.origin === origin)?.state ?? 'closed'
}

function ticket(decision: GateDecision): Ticket {
  assert.ok(decision.ok, `expected admission, got ${JSON.stringify(decision)}`)
  return decision.ticket
}

describe('OriginGate circuit', () => {
  it('opens after consecutive failures, refuses until openMs, then lets one trial through', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 0)), false, 10)
    assert.equal(circuit(gate, A, 10), 'open')
    assert.deepEqual(gate.acquire(A, 500), { ok: false, reason: 'circuit-open', retryAt: 1010, openSince: 10, lastError: '' })
    assert.equal(circuit(gate, A, 1010), 'half-open')
    const trial = ticket(gate.acquire(A, 1010))
    assert.equal(gate.acquire(A, 1011).ok, false, 'only one trial at a time')
    gate.release(trial, true, 1020)
    assert.equal(circuit(gate, A, 1020), 'closed')
    assert.equal(gate.acquire(A, 1021).ok, true)
  })

  it('a failed trial opens the circuit again for twice as long, capped', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 0)), false, 0)
    gate.release(ticket(gate.acquire(A, 1000)), false, 1000)
    assert.deepEqual(gate.acquire(A, 2999), { ok: false, reason: 'circuit-open', retryAt: 3000, openSince: 0, lastError: '' })
    gate.release(ticket(gate.acquire(A, 3000)), false, 3000)
    gate.release(ticket(gate.acquire(A, 7000)), false, 7000)
    assert.deepEqual(gate.acquire(A, 7001), { ok: false, reason: 'circuit-open', retryAt: 10_000, openSince: 0, lastError: '' }, 'capped at maxOpenMs')
  })

  it('says since when the circuit is open, through failed trials, and the last error (for the automatic pause)', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 100)), false, 100, `HTTP 50${i}`)
    gate.release(ticket(gate.acquire(A, 1100)), false, 1100, 'timed out')
    const refused = gate.acquire(A, 1200)
    assert.ok(!refused.ok && refused.reason === 'circuit-open')
    assert.equal(refused.openSince, 100, 'open since the first opening, not the failed trial')
    assert.equal(refused.lastError, 'timed out')
    gate.release(ticket(gate.acquire(A, 3100)), true, 3100)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 5000)), false, 5000, 'again')
    const again = gate.acquire(A, 5001)
    assert.ok(!again.ok && again.reason === 'circuit-open' && again.openSince === 5000, 'a circuit that closed starts counting again')
  })

  it('opens on a rate of failures among recent attempts, not on a run of them', () => {
    const gate = new OriginGate(options)
    for (const failed of [true, true, false, true]) gate.release(ticket(gate.acquire(A, 0)), !failed, 0)
    assert.equal(circuit(gate, A, 0), 'open', '3 of the last 4 failed')
  })

  it('keeps serving an origin that fails often but mostly works', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 1000; i++) gate.release(ticket(gate.acquire(A, i)), i % 2 === 0, i)
    assert.equal(circuit(gate, A, 1000), 'closed', 'half of the attempts failing stays under 3 of 4')
  })

  it('a ticket given back without an attempt changes nothing about the origin\'s health', () => {
    const gate = new OriginGate(options)
    gate.release(ticket(gate.acquire(A, 0)), false, 0)
    gate.release(ticket(gate.acquire(A, 0)), false, 0)
    gate.abandon(ticket(gate.acquire(A, 0)))
    gate.release(ticket(gate.acquire(A, 0)), false, 0)
    assert.equal(circuit(gate, A, 0), 'open', 'three real failures in a row, whatever was abandoned between them')
  })

  it('reports unhealthy origins only', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 0)), false, 0)
    gate.release(ticket(gate.acquire('http://b.example:80', 0)), true, 0)
    assert.deepEqual(gate.unhealthy(10), [{ origin: A, state: 'open' }])
  })
})

describe('OriginGate saturation', () => {
  it('refuses an origin with many attempts in flight when the oldest is slow', () => {
    const gate = new OriginGate({ ...options, unansweredAfterMs: 10_000 })
    const first = ticket(gate.acquire(A, 0))
    const second = ticket(gate.acquire(A, 100))
    const third = ticket(gate.acquire(A, 499))
    assert.deepEqual(gate.acquire(A, 500), { ok: false, reason: 'saturated', retryAt: 1000 })
    gate.release(first, true, 550)
    assert.equal(gate.acquire(A, 550).ok, true, 'the oldest in flight now started at 100: 450 ms ago')
    gate.release(second, true, 560)
    gate.release(third, true, 560)
    assert.equal(gate.acquire(A, 2000).ok, true)
  })

  it('never refuses a fast origin however many requests it has in flight', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 100; i++) assert.equal(gate.acquire(A, i).ok, true, `request ${i}`)
    // Busy for 2 s: always 4 in flight, each answered 40 ms after it started.
    const answering = new OriginGate(options)
    const inFlight: Ticket[] = []
    for (let t = 0; t < 2000; t += 10) {
      if (inFlight.length === 4) answering.release(inFlight.shift() as Ticket, true, t)
      inFlight.push(ticket(answering.acquire(A, t)))
    }
  })

  it('refuses an origin that has answered nothing for unansweredAfterMs with many in flight', () => {
    const gate = new OriginGate(options)
    ticket(gate.acquire(A, 0))
    ticket(gate.acquire(A, 10))
    assert.equal(gate.acquire(A, 199).ok, true, 'quiet for 199 ms only')
    assert.deepEqual(gate.acquire(A, 200), { ok: false, reason: 'saturated', retryAt: 700 })
  })

  it('counts the quiet time from the last answer', () => {
    const gate = new OriginGate(options)
    const first = ticket(gate.acquire(A, 0))
    ticket(gate.acquire(A, 0))
    ticket(gate.acquire(A, 0))
    gate.release(first, true, 150)
    assert.equal(gate.acquire(A, 300).ok, true, 'answered 150 ms ago')
    assert.equal(gate.acquire(A, 350).ok, false, 'answered 200 ms ago')
  })

  it('keys circuits by scheme, host and port', () => {
    assert.equal(originOf('https://client.example/hooks/1?x=1'), 'https://client.example')
    assert.equal(originOf('http://127.0.0.2:8080/a'), 'http://127.0.0.2:8080')
  })
})

describe('OriginGate reset (an operator resumed the origin)', () => {
  it('closes an open circuit and forgets its failures at once', () => {
    const gate = new OriginGate(options)
    for (let i = 0; i < 3; i++) gate.release(ticket(gate.acquire(A, 0)), false, 0)
    assert.equal(gate.acquire(A, 10).ok, false)
    gate.reset(A)
    assert.equal(circuit(gate, A, 10), 'closed')
    gate.release(ticket(gate.acquire(A, 10)), false, 10)
    gate.release(ticket(gate.acquire(A, 10)), false, 10)
    assert.equal(circuit(gate, A, 10), 'closed', 'the old failures no longer count')
  })
})
