import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  buildAcceptedNotification,
  buildResultNotification,
  errorBody,
} from '../../../src/notifications/payload.ts'
import { KIND_TRAITS, NOTIFICATION_KINDS, isNotificationKind } from '../../../src/notifications/kinds.ts'
import { processingRequestSchema, processingResultSchema } from '../../../src/messages/schemas.ts'

const NOW = new Date('2026-11-27T12:00:00.000Z')
const URL_ = 'https://client.example/hook'

function parse(raw: Record<string, unknown>) {
  return processingResultSchema.parse(raw)
}

/** A result as it arrives: the compact JSON most producers write, and what JSON.parse made of it. */
function received(raw: Record<string, unknown>, text = JSON.stringify(raw)) {
  return { raw, text }
}

function failure(messageError: string | null, waitSeconds: number | null, processingId = 1): Record<string, unknown> {
  return {
    success: false,
    response: { callback_url: URL_, processing_id: processingId, user_id: null, resume_id: null, requirements_id: null, score: null },
    message_error: messageError,
    wait_seconds: waitSeconds,
  }
}

describe('buildResultNotification: success', () => {
  const raw = {
    success: true,
    response: {
      callback_url: URL_,
      processing_id: 42,
      user_id: 2,
      resume_id: 3,
      requirements_id: 4,
      score: 50,
      matches: ['Python', 'SQL'],
      recommendation: 'Recommend',
      verdict: 'Good fit',
      unknown_inner: { a: [1, 2] },
    },
    message_error: null,
    wait_seconds: null,
    unknown_outer: 'kept',
  }

  it('sends the received JSON minus response.callback_url, every other field kept', () => {
    const notification = buildResultNotification(parse(raw), received(raw), URL_, NOW)
    const { callback_url: _removed, ...expectedResponse } = raw.response
    assert.deepEqual(JSON.parse(notification.body), { ...raw, response: expectedResponse })
    assert.ok(!('callback_url' in (JSON.parse(notification.body) as { response: object }).response))
  })

  it('keeps field order as received', () => {
    const notification = buildResultNotification(parse(raw), received(raw), URL_, NOW)
    const body = JSON.parse(notification.body) as { response: object }
    assert.deepEqual(Object.keys(body), Object.keys(raw))
    assert.deepEqual(Object.keys(body.response), Object.keys(raw.response).filter((k) => k !== 'callback_url'))
  })

  it('does not modify the raw object', () => {
    const copy = structuredClone(raw)
    buildResultNotification(parse(raw), received(raw), URL_, NOW)
    assert.deepEqual(raw, copy)
  })

  it('is not an error, and carries id, url and a stable webhook id', () => {
    const notification = buildResultNotification(parse(raw), received(raw), 'https://other.example/recorded', NOW)
    assert.equal(notification.kind, 'result')
    assert.equal(notification.isError, false)
    assert.equal(notification.processingId, 42)
    assert.equal(notification.callbackUrl, 'https://other.example/recorded')
    assert.equal(notification.webhookId, 'processing_42')
  })

  it('gives the same webhook id and body at another time', () => {
    const a = buildResultNotification(parse(raw), received(raw), URL_, NOW)
    const b = buildResultNotification(parse(raw), received(raw), URL_, new Date(NOW.getTime() + 3_600_000))
    assert.equal(a.webhookId, b.webhookId)
    assert.equal(a.body, b.body)
  })
})

describe('buildResultNotification: failure', () => {
  it('sends exactly the contract error body for a processing error', () => {
    const raw = failure('model crashed', null, 7)
    const notification = buildResultNotification(parse(raw), received(raw), URL_, NOW)
    assert.deepEqual(JSON.parse(notification.body), {
      status: 'error',
      timestamp: '2026-11-27T12:00:00.000Z',
      processing_id: 7,
      error: {
        type: 'processing_error',
        code: 500,
        message: 'model crashed',
        details: { reason: 'Unknown error', service: 'ai_processor' },
      },
    })
    assert.equal(notification.isError, true)
    assert.equal(notification.webhookId, 'processing_7')
  })

  it('sends the rate-limit variant where wait_seconds > 0', () => {
    const raw = failure('rate limited', 30, 8)
    const notification = buildResultNotification(parse(raw), received(raw), URL_, NOW)
    assert.deepEqual(JSON.parse(notification.body), {
      status: 'error',
      timestamp: '2026-11-27T12:00:00.000Z',
      processing_id: 8,
      error: {
        type: 'Too many request',
        code: 429,
        message: 'rate limited',
        details: { reason: 'Too many request', service: 'ai_processor', retry_after_seconds: 30 },
      },
    })
    assert.equal(notification.isError, true)
  })

  it('sends the 500 variant where wait_seconds is 0', () => {
    const raw = failure('failed', 0)
    const notification = buildResultNotification(parse(raw), received(raw), URL_, NOW)
    const body = JSON.parse(notification.body) as { error: { type: string; code: number; details: Record<string, unknown> } }
    assert.equal(body.error.type, 'processing_error')
    assert.equal(body.error.code, 500)
    assert.deepEqual(body.error.details, { reason: 'Unknown error', service: 'ai_processor' })
  })

  it('uses the passed Date for the timestamp', () => {
    const raw = failure('x', null)
    const when = new Date('2030-01-02T03:04:05.678Z')
    assert.equal(errorBody(parse(raw), when).timestamp, '2030-01-02T03:04:05.678Z')
  })
})

describe('notification kinds', () => {
  it('gives results the contract webhook id processing_<id> and every kind a distinct one', () => {
    assert.equal(KIND_TRAITS.result.webhookId(5), 'processing_5')
    assert.equal(KIND_TRAITS.accepted.webhookId(5), 'processing_5_accepted')
    assert.equal(new Set(NOTIFICATION_KINDS.map((kind) => KIND_TRAITS[kind].webhookId(5))).size, NOTIFICATION_KINDS.length)
  })

  it('keeps each kind apart in Redis and publishes outcomes for results only (contract §1, §3)', () => {
    assert.equal(KIND_TRAITS.result.keySuffix, '', 'the result uses the contract key processed_messages:{id} itself')
    assert.equal(new Set(NOTIFICATION_KINDS.map((kind) => KIND_TRAITS[kind].keySuffix)).size, NOTIFICATION_KINDS.length)
    assert.deepEqual(NOTIFICATION_KINDS.filter((kind) => KIND_TRAITS[kind].publishesOutcome), ['result'])
  })

  it('knows only the kinds of its table', () => {
    assert.equal(isNotificationKind('accepted'), true)
    assert.equal(isNotificationKind('toString'), false)
    assert.equal(isNotificationKind('rejected'), false)
  })
})

describe('buildAcceptedNotification', () => {
  it('builds an accepted notification for a request', () => {
    const request = processingRequestSchema.parse({
      callback_url: URL_,
      processing_id: 11,
      user_id: 2,
      resume_id: 3,
      requirements_id: 4,
      requirements: 'secret requirements',
      resume: 'secret resume',
    })
    const notification = buildAcceptedNotification(request, NOW)
    assert.equal(notification.kind, 'accepted')
    assert.equal(notification.processingId, 11)
    assert.equal(notification.callbackUrl, URL_)
    assert.equal(notification.isError, false)
    assert.equal(notification.webhookId, 'processing_11_accepted')
    assert.deepEqual(JSON.parse(notification.body), {
      status: 'accepted',
      timestamp: '2026-11-27T12:00:00.000Z',
      processing_id: 11,
      user_id: 2,
      resume_id: 3,
      requirements_id: 4,
    })
  })
})
