import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ANSWERS } from '../../../src/delivery/answers.ts'
import { OriginAdmission, type TicketOrRefusal } from '../../../src/delivery/origin-admission.ts'
import { OriginGate, type OriginGateOptions, type Ticket } from '../../../src/delivery/origin-gate.ts'
import { Interrupted } from '../../../src/errors.ts'

/** Answers that do not and that do count against the origin (answers.ts). */
const OK = ANSWERS.success
const FAILED = ANSWERS.serverError
const A = 'http://a.example:80'
const options: OriginGateOptions = {
  window: 4,
  failureThreshold: 3,
  openMs: 60_000,
  maxOpenMs: 60_000,
  concurrency: { initial: 2, min: 1, max: 2, backoff: 0.5, latencyTolerance: 2 },
  maxWaitMs: 300,
  unansweredAfterMs: 10_000,
  forgetAfterMs: 60_000,
}

function ticket(admission: TicketOrRefusal): Ticket {
  assert.ok(admission.ok, `expected a ticket, got ${JSON.stringify(admission)}`)
  return admission.ticket
}

/** Whether a promise has settled by the next turn of the event loop. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  await new Promise((resolve) => setImmediate(resolve))
  return done
}

describe('OriginAdmission', () => {
  it('admits at once below the limit; above it, the next answer hands its slot to the oldest waiter', async () => {
    const admission = new OriginAdmission(new OriginGate(options))
    const signal = new AbortController().signal
    const first = ticket(await admission.admit(A, signal))
    const second = ticket(await admission.admit(A, signal))
    const third = Promise.resolve(admission.admit(A, signal))
    const fourth = Promise.resolve(admission.admit(A, signal))
    assert.equal(await settled(third), false, 'waits at the limit')
    admission.release(first, OK, 5)
    assert.equal(ticket(await third).origin, A, 'the oldest waiter got the slot')
    assert.equal(await settled(fourth), false, 'the next one still waits')
    admission.abandon(second)
    assert.equal(ticket(await fourth).origin, A, 'a ticket given back without an attempt frees its slot too')
  })

  it('refuses as saturated a notification that waited maxWaitMs without a slot', async () => {
    const admission = new OriginAdmission(new OriginGate(options))
    const signal = new AbortController().signal
    ticket(await admission.admit(A, signal))
    ticket(await admission.admit(A, signal))
    const started = Date.now()
    const refused = await admission.admit(A, signal)
    assert.equal(refused.ok, false)
    assert.equal(!refused.ok && refused.reason, 'saturated')
    assert.ok(Date.now() - started >= 290, `refused after ${Date.now() - started} ms`)
  })

  it('once the origin has gone quiet, the whole line is sent away, long before its wait would end', async () => {
    const admission = new OriginAdmission(new OriginGate({ ...options, unansweredAfterMs: 100, maxWaitMs: 10_000 }))
    const signal = new AbortController().signal
    ticket(await admission.admit(A, signal))
    ticket(await admission.admit(A, signal))
    const started = Date.now()
    const waiting = [admission.admit(A, signal), admission.admit(A, signal)].map((admitted) => Promise.resolve(admitted))
    for (const refused of await Promise.all(waiting)) assert.equal(!refused.ok && refused.reason, 'saturated')
    const waited = Date.now() - started
    assert.ok(waited >= 100 && waited < 1000, `sent away after ${waited} ms (quiet after 100 ms; the wait would end after 10 s)`)
  })

  it('a waiter interrupted by shutdown leaves the line; the slot goes to the next one', async () => {
    const admission = new OriginAdmission(new OriginGate(options))
    const stopping = new AbortController()
    const signal = new AbortController().signal
    const first = ticket(await admission.admit(A, signal))
    ticket(await admission.admit(A, signal))
    const interrupted = Promise.resolve(admission.admit(A, stopping.signal))
    const next = Promise.resolve(admission.admit(A, signal))
    stopping.abort()
    await assert.rejects(interrupted, Interrupted)
    admission.release(first, OK, 5)
    assert.equal(ticket(await next).origin, A)
    await assert.rejects(Promise.resolve(admission.admit(A, stopping.signal)), Interrupted, 'already stopping: no wait at all')
  })

  it('a circuit that opens while notifications wait refuses them all at once', async () => {
    const admission = new OriginAdmission(new OriginGate({ ...options, failureThreshold: 1 }))
    const signal = new AbortController().signal
    const first = ticket(await admission.admit(A, signal))
    ticket(await admission.admit(A, signal))
    const waiting = [admission.admit(A, signal), admission.admit(A, signal)].map((admitted) => Promise.resolve(admitted))
    admission.release(first, FAILED, 5)
    for (const refused of await Promise.all(waiting)) assert.equal(!refused.ok && refused.reason, 'circuit-open')
  })
})
