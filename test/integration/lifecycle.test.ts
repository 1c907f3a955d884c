// The real entry point as a child process: bad settings stop it with one line; SIGTERM
// finishes in-flight work and commits; kill -9 mid-stream loses nothing.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ChildProcess } from 'node:child_process'
import { newProcessingId, processingRequest, successResult } from '../helpers/messages.ts'
import { produce, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type ReceivedRequest, type Receiver } from '../helpers/receiver.ts'
import { readyChild, spawnService, startService, testEnv, waitUntil } from '../helpers/service.ts'

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

function countById(requests: ReceivedRequest[], ids: Set<number>): Map<number, number> {
  const counts = new Map<number, number>()
  for (const request of requests) {
    const id = (request.json as { response?: { processing_id?: number } } | undefined)?.response?.processing_id
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

  test('NOTIFY_ON_ACCEPTED=true sends one "accepted" notification for a ProcessingRequest, then the result', async () => {
    const topics = uniqueTopics('accepted')
    const service = await startService(testEnv(topics, { NOTIFY_ON_ACCEPTED: 'true' }))
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
      await new Promise((resolve) => setTimeout(resolve, 500))
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
    const first = await readyChild(env, 18_471)
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

    const second = await readyChild(env, 18_472)
    try {
      await waitUntil(() => countById(receiver.requests, ids).size === ids.size, 60_000, 'all delivered')
      await new Promise((resolve) => setTimeout(resolve, 1000))
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
    const env = testEnv(topics)
    const { ids, records } = batch(topics.KAFKA_TOPIC_FOR_SENDING, 1500)
    const first = await readyChild(env, 18_473)
    await produce(records)
    await waitUntil(() => countById(receiver.requests, ids).size >= 300, 60_000, '300 delivered')
    const exit = exitOf(first)
    first.kill('SIGKILL')
    assert.equal((await exit).signal, 'SIGKILL')
    const inFlightAtCrash = receiver.requests.length

    const second = await readyChild(env, 18_474)
    try {
      await waitUntil(() => countById(receiver.requests, ids).size === ids.size, 90_000, 'all delivered after the crash')
      const counts = countById(receiver.requests, ids)
      const duplicates = [...counts.values()].filter((n) => n > 1).length
      // A crash between a client's 2xx and the done marker is the one duplicate no sender can
      // prevent; it is bounded by the requests that were in flight at the crash.
      assert.ok(duplicates <= 1000, `duplicates ${duplicates} (requests seen at crash: ${inFlightAtCrash})`)
      console.log(`kill -9: ${ids.size} notifications, ${ids.size} delivered, ${duplicates} delivered twice, 0 lost`)
    } finally {
      second.kill('SIGTERM')
      await once(second, 'exit')
    }
  })
})
