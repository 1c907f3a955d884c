// carryOut(): each decision's durable steps, in their order, with the fakes of fakes.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DeliveryError, ErrorCodes } from '../../../src/errors.ts'
import { carryOut, parkWhilePaused, publishOutcomeAgain } from '../../../src/pipeline/carry-out.ts'
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

  it('give-up: dead letter with the notification, then the done marker, then the outcome "failed"', async () => {
    const { ctx, log } = fixture()
    const error = new DeliveryError(ErrorCodes.DELIVERY_GONE, 'callback answered 410 Gone', false, { statusCode: 410 })
    assert.equal(await carryOut(ctx, dispatch(), { kind: 'give-up', history: HISTORY, error, reason: 'gone' }, ATTEMPT), 'failed')
    assert.deepEqual(log.kinds(), ['dead-letter', 'settlement', 'outcome'])
    const { letter } = log.first('dead-letter')
    assert.equal(letter.last_status_code, 410)
    assert.ok(letter.notification)
    assert.equal(log.of('outcome')[0]?.outcome.status, 'failed')
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

describe('publishOutcomeAgain and parkWhilePaused', () => {
  it('publishes the stored status again; nothing when none is kept', async () => {
    const { ctx, log, store } = fixture()
    await publishOutcomeAgain(ctx, dispatch())
    assert.deepEqual(log.kinds(), [])
    store.done = { status: 'failed', attempts: 3, last_status_code: 500, last_error: 'x', next_attempt_at: null, updated_at: new Date().toISOString() }
    await publishOutcomeAgain(ctx, dispatch())
    assert.deepEqual(log.of('outcome').map(({ outcome }) => [outcome.status, outcome.attempts]), [['failed', 3]])
  })

  it('parks the retry record, history kept, CALLBACK_PAUSED', async () => {
    const { ctx, log } = fixture()
    await parkWhilePaused(ctx, dispatch())
    const park = log.first('park')
    assert.equal(park.origin, DESTINATION)
    assert.equal(park.record.last_error_code, ErrorCodes.CALLBACK_PAUSED)
  })
})
