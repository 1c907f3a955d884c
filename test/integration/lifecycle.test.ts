// The real entry point as a child process: bad settings stop it with one line; SIGTERM
// finishes in-flight work and commits; kill -9 mid-stream loses nothing.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { DEFAULT_MAX_CONNECTIONS_PER_ORIGIN } from '../../src/config.ts'
import { notificationKeys } from '../../src/names.ts'
import { newProcessingId, processingRequest, successResult } from '../helpers/messages.ts'
import { produce, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type ReceivedRequest, type Receiver } from '../helpers/receiver.ts'
import { allCommitted, metricValue, readyChild, spawnService, startService, testEnv, waitUntil } from '../helpers/service.ts'

let receiver: Receiver

before(async () => {
  receiver = await startReceiver(() => ({ status: 200, delayMs: 2 }))
})

after(async () => {
  await receiver?.close()
})

async function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdout?.resume()
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
  return { code, signal, stderr }
}

function idOf(request: ReceivedRequest): number | undefined {
  return (request.json as { response?: { processing_id?: number } } | undefined)?.response?.processing_id
}

function countById(requests: ReceivedRequest[], ids: Set<number>): Map<number, number> {
  const counts = new Map<number, number>()
  for (const request of requests) {
    const id = idOf(request)
    if (id !== undefined && ids.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return counts
}

function batch(topic: string, count: number): { ids: Set<number>; records: Array<{ topic: string; key: string; value: string }> } {
  const ids = new Set<number>()
  const records = []
  for (let i = 0; i < count; i++) {
    const id = newProcessingId()
    ids.add(id)
    records.push({ topic, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/batch/${id}`)) })
  }
  return { ids, records }
}

describe('service lifecycle', () => {
  test('a malformed setting stops start-up with exit 78 and one line naming the variable', async () => {
    const child = spawnService({ ...testEnv(uniqueTopics('cfg')), REDIS_PORT: 'abc', REDIS_URL: '' })
    const { code, stderr } = await exitOf(child)
    assert.equal(code, 78)
    const lines = stderr.trim().split('\n')
    assert.equal(lines.length, 1, stderr)
    assert.match(lines[0] ?? '', /^Invalid configuration: REDIS_PORT: must be an integer from 1 to 65535, got "abc"$/)
  })

  test('TLS spoken to a plaintext Kafka listener stops start-up with exit 78 and one line naming KAFKA_SECURITY_PROTOCOL', async () => {
    const child = spawnService({ ...testEnv(uniqueTopics('tls-mismatch')), KAFKA_SECURITY_PROTOCOL: 'SSL' })
    const { code, stderr } = await exitOf(child)
    assert.equal(code, 78, stderr)
    const lines = stderr.trim().split('\n')
    assert.equal(lines.length, 1, stderr)
    assert.match(lines[0] ?? '', /^Cannot start: Kafka TLS: TLS handshake failed\. .*check KAFKA_SECURITY_PROTOCOL/)
  })

  test('NOTIFY_ON_ACCEPTED=true sends one "accepted" notification for a ProcessingRequest, then the result', async () => {
    const topics = uniqueTopics('accepted')
    const env = testEnv(topics, { NOTIFY_ON_ACCEPTED: 'true' })
    const service = await startService(env)
    try {
      const id = newProcessingId()
      const request = processingRequest(id, `${receiver.url}/accepted/${id}`)
      await produce([
        { topic: topics.KAFKA_TOPIC_FOR_AI_HANDLER, key: 'new_request', value: JSON.stringify(request) },
        { topic: topics.KAFKA_TOPIC_FOR_AI_HANDLER, key: 'new_request', value: JSON.stringify(request) },
      ])
      const isMine = (r: ReceivedRequest) => r.path === `/accepted/${id}`
      await receiver.waitFor(1, 20_000, isMine)
      await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, undefined)) }])
      const [accepted, result] = await receiver.waitFor(2, 20_000, isMine)
      assert.equal(accepted?.headers['webhook-id'], `processing_${id}_accepted`)
      assert.deepEqual({ ...(accepted?.json as object), timestamp: 'x' }, {
        status: 'accepted',
        timestamp: 'x',
        processing_id: id,
        user_id: 2,
        resume_id: 3,
        requirements_id: 4,
      })
      assert.equal(result?.headers['webhook-id'], `processing_${id}`)
      // The second ProcessingRequest is finished once it was skipped as already sent, and every
      // record is committed: nothing of this test can still cause a POST.
      await waitUntil(async () => (await metricValue(service.app, 'notifications_duplicates_skipped_total')) >= 1, 20_000, 'the repeated request skipped')
      await allCommitted(env, 30_000)
      assert.equal(receiver.requests.filter(isMine).length, 2, 'the duplicate request is not announced twice')
      const statusApi = await fetch(`http://127.0.0.1:${service.app.httpPort}/notifications/${id}`, { headers: { authorization: 'Bearer anything-at-all-1234' } })
      assert.equal(statusApi.status, 404, 'without ADMIN_TOKEN the status API is off, not open')
    } finally {
      await service.close()
    }
  })

  test('SIGTERM mid-stream: exits 0 after finishing in-flight work; a restart delivers the rest, each exactly once', async () => {
    const topics = uniqueTopics('sigterm')
    const env = testEnv(topics, { LOG_LEVEL: 'info' })
    const { ids, records } = batch(topics.KAFKA_TOPIC_FOR_SENDING, 1500)
    const first = await readyChild(env)
    await produce(records)
    await waitUntil(() => countById(receiver.requests, ids).size >= 300, 60_000, '300 delivered')
    const exit = exitOf(first)
    first.kill('SIGTERM')
    const { code } = await exit
    assert.equal(code, 0)
    const logLines = readFileSync(join(env.LOG_DIR ?? '', 'notification_service.log'), 'utf8').trim().split('\n')
    const messages = logLines.map((line) => (JSON.parse(line) as { msg: string }).msg)
    assert.ok(messages.includes('consuming') && messages.at(-1) === 'stopped', `log file ends with: ${messages.slice(-3).join(' | ')}`)
    const deliveredBeforeStop = countById(receiver.requests, ids).size
    assert.ok(deliveredBeforeStop < ids.size, 'stopped mid-stream')

    const second = await readyChild(env)
    try {
      await waitUntil(() => countById(receiver.requests, ids).size === ids.size, 60_000, 'all delivered')
      // Every record committed: the restarted service has finished with all of them, re-read
      // ones included, so no further POST can come.
      await allCommitted(env)
      const counts = countById(receiver.requests, ids)
      const duplicates = [...counts.values()].filter((n) => n > 1).length
      assert.equal(duplicates, 0)
    } finally {
      second.kill('SIGTERM')
      await once(second, 'exit')
    }
  })

  test('kill -9 mid-stream: a restarted service delivers everything; duplicates only from the crash window', async () => {
    const topics = uniqueTopics('crash')
    // The crash window is under test, not timeouts: a POST that outlives the callback timeout
    // on a starved machine is retried by design and would be a second delivery of its own.
    const env = testEnv(topics, { CALLBACK_TIMEOUT_MS: '10000' })
    const { ids, records } = batch(topics.KAFKA_TOPIC_FOR_SENDING, 1500)
    const first = await readyChild(env)
    await produce(records)
    await waitUntil(() => countById(receiver.requests, ids).size >= 300, 60_000, '300 delivered')
    const exit = exitOf(first)
    first.kill('SIGKILL')
    assert.equal((await exit).signal, 'SIGKILL')
    // The dead process's connections close once the receiver has read what they carried: from
    // then on no request of the first instance can still arrive.
    await waitUntil(async () => (await receiver.connections()) === 0, 10_000, 'connections of the killed instance closed')

    // The crash window, measured before anything is restarted: notifications whose POST reached
    // the client but whose done marker is not in Redis.
    const reached = [...countById(receiver.requests, ids).keys()]
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
    let window: Set<number>
    try {
      const marked = await redis.mget(reached.map((id) => notificationKeys('result', id).done))
      window = new Set(reached.filter((_, i) => marked[i] === null))
    } finally {
      redis.disconnect()
    }

    const second = await readyChild(env)
    try {
      await waitUntil(() => countById(receiver.requests, ids).size === ids.size, 90_000, 'all delivered after the crash')
      // Every record committed: the restarted service has finished with all of them (those whose
      // claim the dead instance held included), so no further duplicate can come.
      await allCommitted(env)
      const mine = receiver.requests.filter((request) => ids.has(idOf(request) ?? -1))
      const counts = countById(mine, ids)
      const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id)
      const extra = duplicated.reduce((sum, id) => sum + (counts.get(id) ?? 0) - 1, 0)
      // The design's promise: a duplicate only from the crash window (a POST that reached the
      // client, no done marker yet), at most one per connection in flight to the origin when
      // the process died, and carrying the first delivery's webhook-id so the client drops it.
      // One origin here (the receiver), so the bound is its concurrency limit (at most
      // CALLBACK_MAX_CONNECTIONS_PER_ORIGIN).
      const outside = duplicated.filter((id) => !window.has(id))
      assert.deepEqual(outside, [], `duplicated though not in the crash window (marker was written, or never sent before the kill)`)
      assert.ok(extra <= window.size, `${extra} duplicate deliveries for a crash window of ${window.size}`)
      // Not asserted: extra <= the limit. The window also holds attempts already
      // answered whose done marker was still in a batched settlement when the process died,
      // so it can exceed the connections in flight (33 > 32 seen on 2026-11-30).
      if (extra > DEFAULT_MAX_CONNECTIONS_PER_ORIGIN) console.log(`kill -9: ${extra} duplicates > CALLBACK_MAX_CONNECTIONS_PER_ORIGIN ${DEFAULT_MAX_CONNECTIONS_PER_ORIGIN}`)
      for (const id of duplicated) {
        const sent = mine.filter((request) => idOf(request) === id).map((request) => request.headers['webhook-id'])
        assert.deepEqual(sent, sent.map(() => `processing_${id}`), `webhook-ids of ${id}`)
      }
      console.log(`kill -9: ${ids.size} notifications, all delivered, crash window ${window.size}, ${duplicated.length} delivered twice, 0 lost`)
    } finally {
      second.kill('SIGTERM')
      await once(second, 'exit')
    }
  })
})
