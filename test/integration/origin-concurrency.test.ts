// Concurrency per callback origin, end to end (real broker, Redis and HTTP): a client that
// answers well gets more requests at once than the 32 it starts with, never more than
// CALLBACK_MAX_CONNECTIONS_PER_ORIGIN; one that starts failing gets fewer; one that hangs
// holds its limit and no more.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { produce, uniqueTopics, type TestTopics } from '../helpers/kafka.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { metricValue, startService, testEnv, waitUntil, type RunningService } from '../helpers/service.ts'

const CAP = 96
/** Enough short retries that a notification deferred while its origin is throttled keeps coming back during the test. */
const RETRIES = Array.from({ length: 30 }, () => '300ms').join(',')

async function produceTo(topics: TestTopics, receiver: Receiver, count: number): Promise<void> {
  await produce(
    Array.from({ length: count }, () => {
      const id = newProcessingId()
      return { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/hook/${id}`)) }
    }),
  )
}

/** The most requests the receiver had unanswered at once over the next `ms`. */
async function peakOver(receiver: Receiver, ms: number): Promise<number> {
  receiver.resetPeak()
  await new Promise((resolve) => setTimeout(resolve, ms))
  return receiver.peakInFlight
}

async function circuitState(service: RunningService, receiver: Receiver): Promise<string> {
  const metrics = await (await fetch(`http://127.0.0.1:${service.app.httpPort}/metrics`)).text()
  return new RegExp(`callback_circuit_state\\{origin="${receiver.url}",state="([a-z-]+)"\\} 1`).exec(metrics)?.[1] ?? 'closed'
}

describe('concurrency per callback origin', () => {
  test('an origin answering in 50 ms gets more than 32 requests at once, never more than CALLBACK_MAX_CONNECTIONS_PER_ORIGIN, and nothing is deferred', async () => {
    const topics = uniqueTopics('conc')
    const service = await startService(testEnv(topics, { CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: String(CAP) }))
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 50 }))
    try {
      await produceTo(topics, receiver, 3000)
      await receiver.waitFor(3000, 60_000)
      await waitUntil(async () => (await metricValue(service.app, 'notification_attempts_total')) === 3000, 10_000, 'every attempt settled')
      assert.ok(receiver.peakInFlight > 32, `at most ${receiver.peakInFlight} requests at once`)
      assert.ok(receiver.peakInFlight <= CAP, `${receiver.peakInFlight} requests at once, over the cap of ${CAP}`)
      assert.equal(await metricValue(service.app, 'notifications_deferred_total'), 0, 'deferred to a retry tier')
      const limit = await metricValue(service.app, 'callback_origin_concurrency_limit', { origin: receiver.url })
      assert.ok(limit > 32 && limit <= CAP, `limit ${limit}`)
    } finally {
      await service.close()
      await receiver.close()
    }
  })

  test('an origin that starts failing half of its requests (503) gets fewer at once; its circuit stays closed', async () => {
    const topics = uniqueTopics('conc-fail')
    const service = await startService(testEnv(topics, { CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: String(CAP), RETRY_SCHEDULE: RETRIES }))
    let failing = false
    const receiver = await startReceiver((_request, index) => ({ status: failing && index % 2 === 0 ? 503 : 200, delayMs: 50 }))
    try {
      await produceTo(topics, receiver, 6000)
      await waitUntil(() => receiver.peakInFlight > 32, 30_000, 'more than 32 requests at once')
      failing = true
      // Halved once per round trip (~50 ms), down to 8: once the limit says so, and the requests
      // sent under the old limit are answered, no more than 16 are sent at once.
      const limit = () => metricValue(service.app, 'callback_origin_concurrency_limit', { origin: receiver.url })
      await waitUntil(async () => (await limit()) <= 16, 10_000, 'the concurrency limit down to 16 or fewer')
      await waitUntil(() => receiver.inFlight <= 16, 10_000, 'the requests sent under the higher limit answered')
      const peak = await peakOver(receiver, 1000)
      assert.ok(peak <= 16, `${peak} requests at once while half of them fail`)
      assert.ok(peak > 0, 'still sent to')
      assert.equal(await circuitState(service, receiver), 'closed', 'the limit throttled it, not the circuit')
      const settled = await limit()
      assert.ok(settled >= 8 && settled <= 16, `limit ${settled}`)
    } finally {
      await service.close()
      await receiver.close()
    }
  })

  test('an origin that starts hanging holds its limit and no more: the notifications waiting for it are deferred within seconds', async () => {
    const topics = uniqueTopics('conc-hang')
    const service = await startService(testEnv(topics, { CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: String(CAP), RETRY_SCHEDULE: RETRIES, CALLBACK_TIMEOUT_MS: '20000' }), { tuning: { shutdownGraceMs: 1000 } })
    let hanging = false
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 50, hang: hanging }))
    try {
      await produceTo(topics, receiver, 6000)
      await waitUntil(() => receiver.peakInFlight > 32, 30_000, 'more than 32 requests at once')
      hanging = true
      const hungAt = Date.now()
      receiver.resetPeak()
      // Nothing answers from now on (and nothing times out for 20 s): the records waiting for a
      // slot are sent to a retry tier once the origin has been quiet for a second.
      const inFlight = () => metricValue(service.app, 'notifications_in_flight', { loop: 'input' })
      // (The input loop takes in only what keeps origins busy, and not against that limit records
      // waiting on an origin for over a second, so it goes on taking records in: those for the hung origin are deferred.)
      const deferred = () => metricValue(service.app, 'notifications_deferred_total', { reason: 'saturated' })
      await waitUntil(async () => (await inFlight()) <= CAP + 50 && (await deferred()) > 0, 10_000, 'records for the hung origin deferred, and the input loop not full of them')
      const after = Date.now() - hungAt
      assert.ok(after < 4000, `${after} ms after the origin hung`)
      assert.ok(receiver.peakInFlight <= CAP, `${receiver.peakInFlight} requests hung at once`)
    } finally {
      // The receiver first: it drops the hung requests, which the service would otherwise wait out on close.
      await receiver.close()
      await service.close()
    }
  })
})
