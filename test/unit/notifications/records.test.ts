import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Notification } from '../../../src/notifications/payload.ts'
import { deadLetterNotification, fromStored, parseEnvelope, toStored, type DeadLetter, type RetryEnvelope } from '../../../src/notifications/records.ts'

const notification: Notification = {
  kind: 'result',
  processingId: 7,
  webhookId: 'processing_7',
  callbackUrl: 'https://client.example/hook',
  body: '{"success":true}',
  isError: false,
}

const envelope: RetryEnvelope = {
  v: 1,
  notification: toStored(notification),
  attempts: 2,
  deferrals: 0,
  due_at: 1_800_000_000_000,
  first_attempt_at: 1_799_999_990_000,
  last_error: 'callback answered 503',
  last_error_code: 'DELIVERY_HTTP_STATUS',
  last_status_code: 503,
  source: { topic: 'sending', partition: 1, offset: '12', key: 'new_sending', timestamp: null },
  original: '{"success":true,"response":{}}',
  original_truncated: false,
}

describe('retry envelope', () => {
  it('round-trips a notification through JSON unchanged', () => {
    const parsed = parseEnvelope(Buffer.from(JSON.stringify(envelope)))
    assert.ok('envelope' in parsed)
    assert.deepEqual(parsed.envelope, envelope)
    assert.deepEqual(fromStored(parsed.envelope.notification), notification)
  })

  it('reads envelopes written before original_truncated existed', () => {
    const { original_truncated: _absent, deferrals: _none, ...older } = envelope
    const parsed = parseEnvelope(Buffer.from(JSON.stringify(older)))
    assert.ok('envelope' in parsed && parsed.envelope.original_truncated === false && parsed.envelope.deferrals === 0)
  })

  it('still writes error_code (null), which replicas of an earlier version require', () => {
    assert.equal(toStored(notification).error_code, null)
    const { error_code: _gone, ...withoutIt } = toStored(notification)
    const parsed = parseEnvelope(Buffer.from(JSON.stringify({ ...envelope, notification: withoutIt })))
    assert.ok('envelope' in parsed, 'and reads records without it')
  })

  it('refuses a kind it does not know instead of sending it as another', () => {
    const parsed = parseEnvelope(Buffer.from(JSON.stringify({ ...envelope, notification: { ...envelope.notification, kind: 'rejected' } })))
    assert.ok('error' in parsed && parsed.error.includes('notification.kind'))
  })

  it('says why a record is not an envelope', () => {
    assert.deepEqual(parseEnvelope(undefined), { error: 'empty retry record' })
    const notJson = parseEnvelope(Buffer.from('{oops'))
    assert.ok('error' in notJson && notJson.error.startsWith('retry record is not JSON'))
    const wrong = parseEnvelope(Buffer.from(JSON.stringify({ ...envelope, attempts: -1 })))
    assert.ok('error' in wrong && wrong.error.includes('attempts'))
  })
})

describe('deadLetterNotification', () => {
  const letter: DeadLetter = {
    reason: 'given up',
    code: 'DELIVERY_HTTP_STATUS',
    source: envelope.source,
    original: '{}',
    original_truncated: false,
    processing_id: 7,
    notification: toStored(notification),
    attempts: 10,
    last_error: 'callback answered 503',
    last_status_code: 503,
    failed_at: '2026-11-27T12:00:00.000Z',
  }

  it('is the stored notification of the letter', () => {
    assert.deepEqual(deadLetterNotification(letter), toStored(notification))
  })

  it('takes processing_id from letters written before the stored form carried it', () => {
    const { processing_id: _absent, error_code: _none, ...older } = toStored(notification)
    assert.equal(deadLetterNotification({ ...letter, notification: older as DeadLetter['notification'] })?.processing_id, 7)
  })

  it('has none for poison, nor for a kind this version does not know', () => {
    assert.equal(deadLetterNotification({ ...letter, notification: undefined, processing_id: null }), undefined)
    assert.equal(deadLetterNotification({ ...letter, notification: { ...toStored(notification), kind: 'rejected' as 'result' } }), undefined)
  })
})
