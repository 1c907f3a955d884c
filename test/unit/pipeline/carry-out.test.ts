// carryOut(): each decision's durable steps, in their order, with the fakes of fakes.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DeliveryError, ErrorCodes } from '../../../src/errors.ts'
import { carryOut, endAgain, parkWhilePaused } from '../../../src/pipeline/carry-out.ts'
import type { Dispatch } from '../../../src/pipeline/context.ts'
import type { Decision } from '../../../src/pipeline/decide.ts'
import { Tracing } from '../../../src/telemetry/tracing.ts'
import { DESTINATION, fixture, incoming, notification } from './fakes.ts'

const HISTORY = { attempts: 1, deferrals: 0, firstAttemptAt: 1 }
const ATTEMPT = { token: 'token-1', record: { at: new Date().toISOString(), status_code: 500, error: 'callback answered 500', duration_ms: 5 } }

function dispatch(signal?: AbortSignal, kind: 'result' | 'accepted' = 'result'): Dispatch {
  const handling = new Tracing(undefined, []).handling({ topic: 'sending', partition: 0, offset: 0n, headers: new Map() }, { kind, processingId: 1, previousAttempts: 0 })
  return { ...incoming(signal), notification: notification({ kind }), destination: DESTINATION, handling, slotAt: undefined }
}

describe('carryOut', () => {
  it('delivered after an attempt: the done marker releases the claim, then the outcome', async () => {
    const { ctx, log } = fixture()
    const result = await carryOut(ctx, dispatch(), { kind: 'delivered', history: HISTORY, statusCode: 200 }, { ...ATTEMPT, record: { ...ATTEMPT.record, status_code: 200, error: null } })
    assert.equal(result, 'delivered')
    assert.deepEqual(log.kinds(), ['settlement', 'outcome'])
    assert.equal(log.of('settlement')[0]?.settlement.token, 'token-1')
  })

  it('retry after an attempt: the retry record first; the status is best effort (a refused settlement does not fail it)', async () => {
    const { ctx, log, store } = fixture()
    store.failSettlements = true
    const error = new DeliveryError(ErrorCodes.DELIVERY_HTTP_STATUS, 'callback answered 500', true, { statusCode: 500 })
    const decision: Decision = { kind: 'retry', history: HISTORY, tier: ctx.schedule.tiers[0]!, dueAt: Date.now() + 1000, error }
    assert.equal(await carryOut(ctx, dispatch(), decision, ATTEMPT), 'retrying')
    assert.deepEqual(log.kinds(), ['retry', 'settlement'])
  })

  it('retry without an attempt (deferred): only the retry record; no claim to release', async () => {
    const { ctx, log } = fixture()
    const error = new DeliveryError(ErrorCodes.CALLBACK_UNAVAILABLE, 'saturated', true)
    await carryOut(ctx, dispatch(), { kind: 'retry', history: HISTORY, tier: ctx.schedule.tiers[0]!, dueAt: Date.now(), error }, undefined)
    assert.deepEqual(log.kinds(), ['retry'])
  })

  it('give-up: the dead letter held in Redis, the done marker, the dead letter written and its hold dropped, then the outcome "failed"', async () => {
    const { ctx, log, store } = fixture()
    const error = new DeliveryError(ErrorCodes.DELIVERY_GONE, 'callback answered 410 Gone', false, { statusCode: 410 })
    assert.equal(await carryOut(ctx, dispatch(), { kind: 'give-up', history: HISTORY, error, reason: 'gone' }, ATTEMPT), 'failed')
    assert.deepEqual(log.kinds(), ['hold-letter', 'settlement', 'dead-letter', 'drop-letter', 'outcome'])
    const { letter } = log.first('dead-letter')
    assert.deepEqual(letter, log.first('hold-letter').letter, 'the letter written is the one held')
    assert.equal(letter.last_status_code, 410)
    assert.ok(letter.notification)
    assert.equal(log.of('outcome')[0]?.outcome.status, 'failed')
    assert.equal(store.letters.size, 0)
  })

  // The soak (issue 21, run 9): a give-up without an attempt wrote its dead letter, then saw
  // shutdown begun and skipped the done marker; a copy read again delivered it: both.
  it('give-up without an attempt (a refusal), shutdown beginning during its settlement: the done marker set, the dead letter still written', async () => {
    const { ctx, log, store } = fixture()
    const stopping = new AbortController()
    store.duringSettlement = () => stopping.abort()
    const error = new DeliveryError(ErrorCodes.CALLBACK_UNAVAILABLE, 'circuit open for longer than the retry schedule', false)
    await carryOut(ctx, dispatch(stopping.signal), { kind: 'give-up', history: HISTORY, error, reason: 'unavailable' }, undefined, 'token-1')
    assert.deepEqual(log.kinds(), ['hold-letter', 'settlement', 'dead-letter', 'drop-letter', 'outcome'])
  })

  it('given up, but another copy ended it first (delivered while this one was frozen): no dead letter; the end that stands is told', async () => {
    const { ctx, log, store } = fixture()
    store.settledByAnother = true
    store.done = { status: 'delivered', attempts: 2, last_status_code: 200, last_error: null, next_attempt_at: null, updated_at: new Date().toISOString() }
    const error = new DeliveryError(ErrorCodes.DELIVERY_HTTP_STATUS, 'callback answered 503', false, { statusCode: 503 })
    await carryOut(ctx, dispatch(), { kind: 'give-up', history: HISTORY, error, reason: 'schedule exhausted' }, ATTEMPT)
    assert.deepEqual(log.kinds(), ['hold-letter', 'settlement', 'outcome'])
    assert.deepEqual([log.first('outcome').outcome.status, log.first('outcome').outcome.attempts], ['delivered', 2])
  })

  it('delivered, but another copy ended it first: the end that stands is told, not this one', async () => {
    const { ctx, log, store } = fixture()
    store.settledByAnother = true
    store.done = { status: 'failed', attempts: 4, last_status_code: 503, last_error: 'callback answered 503', next_attempt_at: null, updated_at: new Date().toISOString() }
    await carryOut(ctx, dispatch(), { kind: 'delivered', history: HISTORY, statusCode: 200 }, ATTEMPT)
    assert.deepEqual(log.of('outcome').map(({ outcome }) => outcome.status), ['failed'])
  })

  it('an attempt made is still settled after shutdown began (tried once)', async () => {
    const { ctx, log } = fixture()
    const stopped = new AbortController()
    stopped.abort()
    await carryOut(ctx, dispatch(stopped.signal), { kind: 'delivered', history: HISTORY, statusCode: 200 }, ATTEMPT)
    assert.deepEqual(log.kinds(), ['settlement', 'outcome'])
  })

  it('a kind without an outcome record (accepted): no outcome', async () => {
    const { ctx, log } = fixture()
    await carryOut(ctx, dispatch(undefined, 'accepted'), { kind: 'delivered', history: HISTORY, statusCode: 200 }, ATTEMPT)
    assert.deepEqual(log.kinds(), ['settlement'])
  })
})

describe('endAgain and parkWhilePaused', () => {
  it('publishes the stored status again; nothing when none is kept', async () => {
    const { ctx, log, store } = fixture()
    await endAgain(ctx, dispatch())
    assert.deepEqual(log.kinds(), [])
    store.done = { status: 'failed', attempts: 3, last_status_code: 500, last_error: 'x', next_attempt_at: null, updated_at: new Date().toISOString() }
    await endAgain(ctx, dispatch())
    assert.deepEqual(log.of('outcome').map(({ outcome }) => [outcome.status, outcome.attempts]), [['failed', 3]])
    assert.deepEqual(log.of('dead-letter'), [], 'no letter held: none written')
  })

  // A replica killed between a give-up's done marker and its dead letter: the copy read again
  // is a duplicate (done), and it alone can still write the letter.
  it('given up before a crash, its dead letter held but never written: the copy read again writes it, drops the hold, publishes the outcome', async () => {
    const { ctx, log, store } = fixture()
    const error = new DeliveryError(ErrorCodes.DELIVERY_GONE, 'callback answered 410 Gone', false, { statusCode: 410 })
    const crashed = fixture()
    crashed.ctx.publisher.deadLetter = () => Promise.reject(new Error('killed'))
    const original = dispatch()
    await assert.rejects(carryOut(crashed.ctx, original, { kind: 'give-up', history: HISTORY, error, reason: 'gone' }, ATTEMPT), /killed/)
    const { processingId } = original.notification
    const held = crashed.store.letters.get(processingId)
    assert.ok(held !== undefined, 'the letter stays held')
    store.letters.set(processingId, held)
    store.done = crashed.log.first('settlement').settlement.status
    await endAgain(ctx, { ...original, notification: { ...original.notification, kind: 'accepted' } })
    assert.deepEqual(log.kinds(), ['dead-letter', 'drop-letter'], 'a kind without outcomes: the letter only')
    assert.deepEqual(log.first('dead-letter').letter, JSON.parse(held))
    await endAgain(ctx, original)
    assert.deepEqual(log.kinds(), ['dead-letter', 'drop-letter', 'outcome'], 'written once: the hold was dropped')
  })

  it('parks the retry record, history kept, CALLBACK_PAUSED', async () => {
    const { ctx, log } = fixture()
    await parkWhilePaused(ctx, dispatch())
    const park = log.first('park')
    assert.equal(park.origin, DESTINATION)
    assert.equal(park.record.last_error_code, ErrorCodes.CALLBACK_PAUSED)
  })
})
