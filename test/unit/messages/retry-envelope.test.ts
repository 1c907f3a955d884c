import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fromEnvelopeNotification, parseEnvelope, toEnvelopeNotification, type RetryEnvelope } from '../../../src/messages/retry-envelope.ts'
import type { Notification } from '../../../src/notifications/payload.ts'

const notification: Notification = {
  kind: 'result',
  processingId: 7,
  webhookId: 'processing_7',
  callbackUrl: 'https://client.example/hook',
  body: '{"success":true}',
  isError: false,
  errorCode: undefined,
}

const envelope: RetryEnvelope = {
  v: 1,
  notification: toEnvelopeNotification(notification),
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
    assert.deepEqual(fromEnvelopeNotification(parsed.envelope.notification), notification)
  })

  it('reads envelopes written before original_truncated existed', () => {
    const { original_truncated: _absent, deferrals: _none, ...older } = envelope
    const parsed = parseEnvelope(Buffer.from(JSON.stringify(older)))
    assert.ok('envelope' in parsed && parsed.envelope.original_truncated === false && parsed.envelope.deferrals === 0)
  })

  it('keeps the error code of an error notification', () => {
    const stored = toEnvelopeNotification({ ...notification, isError: true, errorCode: 429 })
    assert.equal(stored.error_code, 429)
    assert.equal(fromEnvelopeNotification(stored).errorCode, 429)
  })

  it('says why a record is not an envelope', () => {
    assert.deepEqual(parseEnvelope(undefined), { error: 'empty retry record' })
    const notJson = parseEnvelope(Buffer.from('{oops'))
    assert.ok('error' in notJson && notJson.error.startsWith('retry record is not JSON'))
    const wrong = parseEnvelope(Buffer.from(JSON.stringify({ ...envelope, attempts: -1 })))
    assert.ok('error' in wrong && wrong.error.includes('attempts'))
  })
})
