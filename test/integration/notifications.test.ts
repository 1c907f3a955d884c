// The whole path against the real broker, real Redis and a real local receiver:
// Kafka record → validation → Redis claim → HTTP POST → outcome / dead letter → commit.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { notificationKeys, requestKey } from '../../src/names.ts'
import { NotificationKinds } from '../../src/notifications/kinds.ts'
import { newProcessingId, failureResult, processingRequest, successResult } from '../helpers/messages.ts'
import { produce, readTopic, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { metricValue, startService, testEnv, waitUntil, type RunningService } from '../helpers/service.ts'

const topics = uniqueTopics('flow')
const ADMIN_TOKEN = 'test-admin-token-0123456789'
let service: RunningService
let receiver: Receiver

before(async () => {
  receiver = await startReceiver()
  service = await startService(testEnv(topics, { ADMIN_TOKEN }))
})

after(async () => {
  await service?.close()
  await receiver?.close()
})

function forId(processingId: number) {
  return (request: { path: string }) => request.path === `/hook/${processingId}`
}

/** Outcome and dead-letter records for one processing id. */
async function outcomesFor(processingId: number, count = 1) {
  const records = await readTopic(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, Number.MAX_SAFE_INTEGER, 3000)
  const mine = records.filter((record) => record.key === String(processingId))
  assert.ok(mine.length >= count, `expected ${count} outcome(s) for ${processingId}, got ${mine.length}`)
  return mine.map((record) => JSON.parse(record.value) as Record<string, unknown>)
}

async function deadLettersFor(match: (letter: Record<string, unknown>) => boolean, timeoutMs = 15_000) {
  let found: Array<Record<string, unknown>> = []
  await waitUntil(
    async () => {
      const records = await readTopic(topics.KAFKA_TOPIC_DLQ, Number.MAX_SAFE_INTEGER, 1500)
      found = records.map((record) => JSON.parse(record.value) as Record<string, unknown>).filter(match)
      return found.length > 0
    },
    timeoutMs,
    'dead letter',
  )
  return found
}

describe('notifications end to end', () => {
  test('a success result is POSTed once, without callback_url, with Standard Webhooks headers, and its outcome published', async () => {
    const id = newProcessingId()
    const message = successResult(id, `${receiver.url}/hook/${id}`, { extra_field: 'kept' })
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(message) }])

    const [request] = await receiver.waitFor(1, 20_000, forId(id))
    assert.ok(request)
    const { callback_url: _dropped, ...expectedResponse } = message.response
    assert.deepEqual(request.json, { ...message, response: expectedResponse })
    assert.equal(request.headers['content-type'], 'application/json')
    assert.equal(request.headers['webhook-id'], `processing_${id}`)
    assert.match(String(request.headers['webhook-timestamp']), /^\d{10}$/)
    assert.equal(request.headers['x-error-notification'], undefined)

    const [outcome] = await outcomesFor(id)
    assert.equal(outcome?.status, 'delivered')
    assert.equal(outcome?.attempts, 1)
    assert.equal(outcome?.last_status_code, 200)
  })

  test('a rate-limited failure becomes the 429 error payload with retry_after_seconds', async () => {
    const id = newProcessingId()
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(failureResult(id, `${receiver.url}/hook/${id}`, 'Rate limit reached', 17)) }])
    const [request] = await receiver.waitFor(1, 20_000, forId(id))
    assert.equal(request?.headers['x-error-notification'], 'true')
    const body = request?.json as Record<string, unknown>
    assert.equal(body.status, 'error')
    assert.equal(body.processing_id, id)
    assert.ok(!Number.isNaN(Date.parse(String(body.timestamp))))
    assert.deepEqual(body.error, {
      type: 'Too many request',
      code: 429,
      message: 'Rate limit reached',
      details: { reason: 'Too many request', service: 'ai_processor', retry_after_seconds: 17 },
    })
  })

  test('a server-error failure becomes the 500 error payload', async () => {
    const id = newProcessingId()
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(failureResult(id, `${receiver.url}/hook/${id}`, 'Model crashed')) }])
    const [request] = await receiver.waitFor(1, 20_000, forId(id))
    assert.equal(request?.headers['x-error-notification'], 'true')
    assert.deepEqual((request?.json as Record<string, unknown>).error, {
      type: 'processing_error',
      code: 500,
      message: 'Model crashed',
      details: { reason: 'Unknown error', service: 'ai_processor' },
    })
  })

  test('the same result produced twice reaches the client once', async () => {
    const id = newProcessingId()
    const value = JSON.stringify(successResult(id, `${receiver.url}/hook/${id}`))
    const skippedBefore = await metricValue(service.app, 'notifications_duplicates_skipped_total')
    await produce([
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value },
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value },
    ])
    await receiver.waitFor(1, 20_000, forId(id))
    // The second record is finished once it was skipped as already sent (records of one
    // processing_id are handled in order, so the first one, delivered, is finished too): nothing
    // can POST this notification again.
    await waitUntil(async () => (await metricValue(service.app, 'notifications_duplicates_skipped_total')) >= skippedBefore + 1, 10_000, 'duplicate skipped')
    assert.equal(receiver.requests.filter(forId(id)).length, 1)
    // Outcomes are at least once: the duplicate publishes it again, as it was settled.
    const [first, again] = await outcomesFor(id, 2)
    assert.equal(first?.status, 'delivered')
    assert.deepEqual(again, first, 'the copy reads the same')
  })

  test('a result marked done whose outcome never left (a crash between the two) is not sent again, and its outcome is published when read again', async () => {
    const id = newProcessingId()
    // What the settle step leaves in Redis, as if the replica died before producing the outcome.
    const settledAt = new Date(Date.now() - 60_000).toISOString()
    const status = { status: 'delivered', attempts: 2, last_status_code: 202, last_error: null, next_attempt_at: null, updated_at: settledAt }
    const keys = notificationKeys(NotificationKinds.RESULT, id)
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
    try {
      await redis.set(keys.done, '_', 'EX', 600)
      await redis.set(keys.status, JSON.stringify(status), 'EX', 600)
    } finally {
      redis.disconnect()
    }
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/hook/${id}`)) }])

    let outcomes: Array<Record<string, unknown>> = []
    await waitUntil(async () => (outcomes = await outcomesFor(id, 0)).length > 0, 20_000, 'outcome published')
    assert.deepEqual(outcomes, [{ processing_id: id, status: 'delivered', attempts: 2, last_status_code: 202, at: settledAt }])
    assert.equal(receiver.requests.filter(forId(id)).length, 0, 'not POSTed again')
  })

  test('a result on AI_handler with key new_request is delivered as a result', async () => {
    const id = newProcessingId()
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_AI_HANDLER, key: 'new_request', value: JSON.stringify(successResult(id, `${receiver.url}/hook/${id}`)) }])
    const [request] = await receiver.waitFor(1, 20_000, forId(id))
    assert.equal((request?.json as { success: boolean }).success, true)
  })

  test('a poison message goes to the dead-letter topic with its reason and the next message is still delivered', async () => {
    const id = newProcessingId()
    const good = newProcessingId()
    await produce([
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: `{"not json ${id}` },
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify({ success: true, response: { processing_id: `x${id}` } }) },
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, 'ftp://example.com/hook')) },
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(good, `${receiver.url}/hook/${good}`)) },
    ])
    await receiver.waitFor(1, 20_000, forId(good))
    const notJson = await deadLettersFor((letter) => String(letter.original).includes(`not json ${id}`))
    assert.equal(notJson[0]?.code, 'MESSAGE_NOT_JSON')
    assert.match(String(notJson[0]?.reason), /not valid JSON/)
    assert.equal((notJson[0]?.source as { topic: string }).topic, topics.KAFKA_TOPIC_FOR_SENDING)
    const badSchema = await deadLettersFor((letter) => String(letter.original).includes(`x${id}`))
    assert.equal(badSchema[0]?.code, 'MESSAGE_SCHEMA')
    assert.match(String(badSchema[0]?.reason), /response\.processing_id/)
    const badUrl = await deadLettersFor((letter) => String(letter.original).includes('ftp://example.com/hook') && String(letter.original).includes(String(id)))
    assert.equal(badUrl[0]?.code, 'CALLBACK_URL_INVALID')
  })

  test('messages with other services\' keys are skipped quietly and counted', async () => {
    const before = await metricValue(service.app, 'notifications_consumed_total', { kind: 'foreign' })
    const id = newProcessingId()
    await produce([
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'someone_else', value: JSON.stringify(successResult(id, `${receiver.url}/hook/${id}`)) },
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'someone_else', value: 'binary garbage' },
    ])
    await waitUntil(async () => (await metricValue(service.app, 'notifications_consumed_total', { kind: 'foreign' })) >= before + 2, 20_000, 'foreign records counted')
    assert.equal(receiver.requests.filter(forId(id)).length, 0)
  })

  test('a receiver that answers 500 then 200 gets the notification on the retry, with the same webhook-id; its status shows both attempts', async () => {
    const id = newProcessingId()
    let calls = 0
    const previous = receiver.respond
    receiver.respond = (request, index) => (forId(id)(request) ? { status: calls++ === 0 ? 500 : 200 } : previous(request, index))
    try {
      await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/hook/${id}`)) }])
      const requests = await receiver.waitFor(2, 20_000, forId(id))
      assert.equal(requests[0]?.headers['webhook-id'], requests[1]?.headers['webhook-id'])
      const [outcome] = await outcomesFor(id)
      assert.equal(outcome?.status, 'delivered')
      assert.equal(outcome?.attempts, 2)

      const statusUrl = `http://127.0.0.1:${service.app.httpPort}/notifications/${id}`
      assert.equal((await fetch(statusUrl)).status, 401)
      assert.equal((await fetch(statusUrl, { headers: { authorization: 'Bearer wrong' } })).status, 401)
      const status = (await (await fetch(statusUrl, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as {
        status: string
        attempts: number
        history: Array<{ status_code: number; error: string | null }>
      }
      assert.equal(status.status, 'delivered')
      assert.equal(status.attempts, 2)
      assert.deepEqual(status.history.map((attempt) => attempt.status_code), [500, 200])
      assert.equal(status.history[0]?.error, 'callback answered 500')
      const unknown = await fetch(`http://127.0.0.1:${service.app.httpPort}/notifications/1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      assert.equal(unknown.status, 404)
    } finally {
      receiver.respond = previous
    }
  })

  test('410 Gone is final at once: dead-lettered after one attempt', async () => {
    const id = newProcessingId()
    const previous = receiver.respond
    receiver.respond = (request, index) => (forId(id)(request) ? { status: 410 } : previous(request, index))
    try {
      await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/hook/${id}`)) }])
      const [letter] = await deadLettersFor((l) => l.processing_id === id)
      assert.equal(letter?.code, 'DELIVERY_GONE')
      assert.equal(letter?.attempts, 1)
      assert.equal(letter?.last_status_code, 410)
      assert.equal(receiver.requests.filter(forId(id)).length, 1)
    } finally {
      receiver.respond = previous
    }
  })

  test('a receiver that is down: retried on the schedule, then dead-lettered with payload, attempts and last error', async () => {
    const id = newProcessingId()
    const closed = await startReceiver()
    const url = `${closed.url}/hook/${id}`
    await closed.close()
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, url)) }])
    const [letter] = await deadLettersFor((l) => l.processing_id === id, 20_000)
    assert.equal(letter?.code, 'DELIVERY_NETWORK')
    assert.equal(letter?.attempts, 4, 'one attempt plus the three retries of RETRY_SCHEDULE')
    assert.match(String(letter?.last_error), /ECONNREFUSED/)
    const notification = letter?.notification as { callback_url: string; body: string; webhook_id: string }
    assert.equal(notification.callback_url, url)
    assert.equal((JSON.parse(notification.body) as { response: { processing_id: number } }).response.processing_id, id)
    const [outcome] = await outcomesFor(id)
    assert.equal(outcome?.status, 'failed')
    assert.equal(outcome?.attempts, 4)
  })

  test('a result without callback_url is delivered to the callback recorded from its ProcessingRequest', async () => {
    const id = newProcessingId()
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_AI_HANDLER, key: 'new_request', value: JSON.stringify(processingRequest(id, `${receiver.url}/hook/${id}`)) }])
    await waitUntil(async () => (await metricValue(service.app, 'processing_requests_recorded_total')) >= 1, 20_000, 'request recorded')
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, undefined)) }])
    const requests = await receiver.waitFor(1, 20_000, forId(id))
    assert.equal(requests.length, 1, 'no "accepted" notification unless NOTIFY_ON_ACCEPTED=true')
    assert.equal((requests[0]?.json as { response: { processing_id: number } }).response.processing_id, id)
  })

  test('a key of ours holding another type in Redis dead-letters that record (STORE_REJECTED) instead of retrying it for ever', async () => {
    const [odd, next] = [newProcessingId(), newProcessingId()]
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
    try {
      await redis.rpush(requestKey(odd), 'not a recorded request')
    } finally {
      redis.disconnect()
    }
    await produce([
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(odd, undefined)) },
      { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(next, `${receiver.url}/hook/${next}`)) },
    ])
    const [letter] = await deadLettersFor((candidate) => candidate.processing_id === null && String(candidate.original).includes(`"processing_id":${odd}`))
    assert.equal(letter?.code, 'STORE_REJECTED')
    assert.match(String(letter?.reason), /WRONGTYPE/)
    assert.equal((await receiver.waitFor(1, 20_000, forId(next))).length, 1, 'the next record is still delivered')
  })

  test('readiness and health endpoints answer', async () => {
    const base = `http://127.0.0.1:${service.app.httpPort}`
    const health = await fetch(`${base}/healthz`)
    assert.equal(health.status, 200)
    const ready = await fetch(`${base}/readyz`)
    assert.equal(ready.status, 200)
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { redis: true, kafka: true } })
    const metrics = await (await fetch(`${base}/metrics`)).text()
    assert.match(metrics, /notifications_delivered_total\{kind="result"\} \d+/)
    assert.match(metrics, /notifications_in_flight\{loop="input"\} \d+/)
    await waitUntil(
      async () => new RegExp(`kafka_consumer_lag\\{group="${topics.KAFKA_GROUP_ID}",topic="${topics.KAFKA_TOPIC_FOR_SENDING}",partition="\\d"\\} 0`).test(await (await fetch(`${base}/metrics`)).text()),
      15_000,
      'consumer lag reported (every 10 s)',
    )
  })
})
