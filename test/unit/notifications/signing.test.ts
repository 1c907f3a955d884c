import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { notificationHeaders, sign } from '../../../src/notifications/signing.ts'

const notification = { webhookId: 'processing_1', body: '{"success":true,"response":{"processing_id":1}}', isError: false }

function secretPair(): { key: Buffer; whsec: string } {
  const key = randomBytes(32)
  return { key, whsec: `whsec_${key.toString('base64')}` }
}

describe('notificationHeaders', () => {
  it('sets content type, webhook id and timestamp in seconds', () => {
    const headers = notificationHeaders(notification, [], 1_700_000_123_999)
    assert.equal(headers['content-type'], 'application/json')
    assert.equal(headers['webhook-id'], 'processing_1')
    assert.equal(headers['webhook-timestamp'], '1700000123')
  })

  it('omits webhook-signature without secrets', () => {
    const headers = notificationHeaders(notification, [], Date.now())
    assert.ok(!('webhook-signature' in headers))
  })

  it('sets x-error-notification only for errors', () => {
    assert.ok(!('x-error-notification' in notificationHeaders(notification, [], Date.now())))
    const headers = notificationHeaders({ ...notification, isError: true }, [], Date.now())
    assert.equal(headers['x-error-notification'], 'true')
  })

  it('signs in the v1,<base64> format', () => {
    const { key } = secretPair()
    const headers = notificationHeaders(notification, [key], Date.now())
    assert.match(headers['webhook-signature'] ?? '', /^v1,[A-Za-z0-9+/]+=*$/)
  })
})

describe('signature verification with the standardwebhooks reference', () => {
  it('verifies with the one configured secret', () => {
    const { key, whsec } = secretPair()
    const headers = notificationHeaders(notification, [key], Date.now())
    assert.doesNotThrow(() => new Webhook(whsec).verify(notification.body, headers))
  })

  it('verifies an error notification too', () => {
    const { key, whsec } = secretPair()
    const errorNotification = { webhookId: 'processing_2', body: '{"status":"error"}', isError: true }
    const headers = notificationHeaders(errorNotification, [key], Date.now())
    assert.doesNotThrow(() => new Webhook(whsec).verify(errorNotification.body, headers))
  })

  it('verifies with each of two secrets (rotation)', () => {
    const first = secretPair()
    const second = secretPair()
    const headers = notificationHeaders(notification, [first.key, second.key], Date.now())
    assert.equal((headers['webhook-signature'] ?? '').split(' ').length, 2)
    assert.doesNotThrow(() => new Webhook(first.whsec).verify(notification.body, headers))
    assert.doesNotThrow(() => new Webhook(second.whsec).verify(notification.body, headers))
  })

  it('fails with a different secret or a changed body', () => {
    const { key, whsec } = secretPair()
    const headers = notificationHeaders(notification, [key], Date.now())
    assert.throws(() => new Webhook(secretPair().whsec).verify(notification.body, headers))
    assert.throws(() => new Webhook(whsec).verify(`${notification.body} `, headers))
  })

  it('matches the reference signer byte for byte', () => {
    const { key, whsec } = secretPair()
    const nowMs = 1_700_000_000_000
    const ours = sign([key], 'processing_9', nowMs / 1000, notification.body)
    assert.equal(ours, new Webhook(whsec).sign('processing_9', new Date(nowMs), notification.body))
  })
})

describe('sign', () => {
  it('returns undefined without secrets', () => {
    assert.equal(sign([], 'id', 1, 'body'), undefined)
  })

  it('depends on id, timestamp and body', () => {
    const { key } = secretPair()
    const base = sign([key], 'id', 1, 'body')
    assert.notEqual(sign([key], 'id2', 1, 'body'), base)
    assert.notEqual(sign([key], 'id', 2, 'body'), base)
    assert.notEqual(sign([key], 'id', 1, 'body2'), base)
    assert.equal(sign([key], 'id', 1, 'body'), base)
  })
})
