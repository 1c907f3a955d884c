// Deliveries that survive: retries parked in Kafka retry topics (on time after kill -9,
// never blocking other notifications), Redis outages, and replicas joining and leaving.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { produce, readTopic, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type ReceivedRequest, type Receiver } from '../helpers/receiver.ts'
import { ROOT, spawnService, startService, testEnv, waitUntil } from '../helpers/service.ts'

let receiver: Receiver

before(async () => {
  receiver = await startReceiver()
})

after(async () => {
  await receiver?.close()
})

const pathIs = (path: string) => (request: ReceivedRequest) => request.path === path

async function readyChild(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawnService({ ...env, HTTP_PORT: String(port) })
  child.stdout?.resume()
  child.stderr?.resume()
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 60_000, 'child ready')
  return child
}

function processingIds(requests: ReceivedRequest[], prefix: string): number[] {
  return requests.filter((r) => r.path.startsWith(prefix)).map((r) => (r.json as { response: { processing_id: number } }).response.processing_id)
}

describe('durable delivery', () => {
  test('a scheduled retry survives kill -9 of the service and still happens on time', async () => {
    const topics = uniqueTopics('durable')
    const env = testEnv(topics, { RETRY_SCHEDULE: '4s' })
    const id = newProcessingId()
    const path = `/durable/${id}`
    let calls = 0
    receiver.respond = (request) => (request.path === path ? { status: calls++ === 0 ? 500 : 200 } : { status: 200 })

    const first = await readyChild(env, 18_481)
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}${path}`)) }])
    const [failed] = await receiver.waitFor(1, 20_000, pathIs(path))
    // The retry is parked in its tier topic before the input offset is committed.
    const parked = await readTopic(`${topics.KAFKA_GROUP_ID}.retry.4s`, 1, 10_000)
    assert.equal(parked.length, 1)
    assert.equal((JSON.parse(parked[0]?.value ?? '{}') as { attempts: number }).attempts, 1)
    first.kill('SIGKILL')
    await once(first, 'exit')

    const second = await readyChild(env, 18_482)
    try {
      const [, retried] = await receiver.waitFor(2, 30_000, pathIs(path))
      const waited = (retried?.at ?? 0) - (failed?.at ?? 0)
      assert.ok(waited >= 4000 * 0.8 - 50, `retried after ${waited} ms, scheduled 4 s ± 20 %`)
      // Kafka hands the dead replica's partitions over after its 10 s session timeout.
      assert.ok(waited < 4000 + 10_000 + 5000, `retried after ${waited} ms`)
      assert.equal(retried?.headers['webhook-id'], failed?.headers['webhook-id'])
      await new Promise((resolve) => setTimeout(resolve, 500))
      assert.equal(receiver.requests.filter(pathIs(path)).length, 2)
    } finally {
      second.kill('SIGTERM')
      await once(second, 'exit')
      receiver.respond = () => ({ status: 200 })
    }
  })

  test('an endpoint that hangs until timeout does not slow deliveries to others', async () => {
    const topics = uniqueTopics('hang')
    const service = await startService(testEnv(topics, { CALLBACK_TIMEOUT_MS: '3000', RETRY_SCHEDULE: '1s' }))
    receiver.respond = (request) => (request.path.startsWith('/hang/') ? { status: 200, hang: true } : { status: 200 })
    try {
      const stuck = newProcessingId()
      const others = Array.from({ length: 200 }, () => newProcessingId())
      await produce([
        { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(stuck, `${receiver.url}/hang/${stuck}`)) },
        ...others.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/fast/${id}`)) })),
      ])
      const [hung] = await receiver.waitFor(1, 20_000, pathIs(`/hang/${stuck}`))
      const delivered = await receiver.waitFor(200, 20_000, (r) => r.path.startsWith('/fast/') && others.includes(Number(r.path.split('/')[2])))
      const lastFast = Math.max(...delivered.map((r) => r.at))
      assert.ok(lastFast - (hung?.at ?? 0) < 3000, `the 200 others finished ${lastFast - (hung?.at ?? 0)} ms after the hung request began (timeout 3000 ms)`)
    } finally {
      receiver.respond = () => ({ status: 200 })
      await service.close()
    }
  })

  test('Redis unavailable: not ready, nothing sent unclaimed; resumes by itself and delivers each once', async () => {
    const port = 6391
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    const topics = uniqueTopics('redis')
    const redisUrl = `redis://127.0.0.1:${port}`
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}`).catch((e: Error) => e)) !== undefined, 5000, 'redis up')
    const service = await startService(testEnv(topics, { REDIS_URL: redisUrl }), { tuning: { infrastructureRetryMs: 200 } })
    const base = `http://127.0.0.1:${service.app.httpPort}`
    let restarted: ChildProcess | undefined
    try {
      redis.kill('SIGTERM')
      await once(redis, 'exit')
      await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 503, 20_000, 'not ready without Redis')

      const ids = Array.from({ length: 20 }, () => newProcessingId())
      await produce(ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/redis/${id}`)) })))
      await new Promise((resolve) => setTimeout(resolve, 3000))
      assert.equal(processingIds(receiver.requests, '/redis/').length, 0, 'nothing is sent while Redis is down')

      restarted = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
      await receiver.waitFor(20, 30_000, (r) => r.path.startsWith('/redis/'))
      await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 200, 20_000, 'ready again')
      await new Promise((resolve) => setTimeout(resolve, 500))
      const delivered = processingIds(receiver.requests, '/redis/')
      assert.deepEqual([...delivered].sort(), [...ids].sort())
    } finally {
      await service.close()
      restarted?.kill('SIGTERM')
      if (restarted) await once(restarted, 'exit')
    }
  })

  test('replicas joining and leaving the group mid-stream: every notification delivered exactly once', async () => {
    const topics = uniqueTopics('replicas')
    const env = testEnv(topics)
    receiver.respond = () => ({ status: 200, delayMs: 3 })
    const first = await startService(env)
    let second: Awaited<ReturnType<typeof startService>> | undefined
    let third: Awaited<ReturnType<typeof startService>> | undefined
    try {
      const ids = Array.from({ length: 3000 }, () => newProcessingId())
      const prefix = `/replicas/${topics.KAFKA_GROUP_ID}/`
      const produced = produce(ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}${prefix}${id}`)) })))
      await waitUntil(() => processingIds(receiver.requests, prefix).length >= 300, 60_000, '300 delivered')
      second = await startService(env)
      third = await startService(env)
      await waitUntil(() => processingIds(receiver.requests, prefix).length >= 1500, 60_000, '1500 delivered')
      await first.close()
      await second.close()
      second = undefined
      await produced
      await waitUntil(() => new Set(processingIds(receiver.requests, prefix)).size === ids.length, 90_000, 'all delivered')
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const delivered = processingIds(receiver.requests, prefix)
      assert.equal(new Set(delivered).size, ids.length)
      assert.equal(delivered.length, ids.length, `${delivered.length - ids.length} duplicate deliveries`)
    } finally {
      receiver.respond = () => ({ status: 200 })
      await second?.close()
      await third?.close()
    }
  })

  test('a given-up notification is replayed from the dead-letter topic by processing_id, once', async () => {
    const topics = uniqueTopics('replay')
    const env = testEnv(topics, { RETRY_SCHEDULE: '100ms' })
    const service = await startService(env)
    const id = newProcessingId()
    const path = `/replay/${id}`
    let gone = true
    receiver.respond = (request) => (request.path === path && gone ? { status: 503 } : { status: 200 })
    try {
      await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}${path}`)) }])
      await waitUntil(async () => (await readTopic(topics.KAFKA_TOPIC_DLQ, 1, 1000)).length === 1, 20_000, 'dead-lettered')
      assert.equal(receiver.requests.filter(pathIs(path)).length, 2, 'one attempt and one retry before giving up')
      gone = false

      const first = await runReplay(env, ['--id', String(id)])
      assert.equal(first.code, 0, first.output)
      assert.match(first.output, /replayed 1;/)
      const requests = await receiver.waitFor(3, 20_000, pathIs(path))
      assert.equal(requests[2]?.headers['webhook-id'], `processing_${id}`)

      const second = await runReplay(env, ['--all'])
      assert.match(second.output, /replayed 0; skipped 1 already replayed/)
      await new Promise((resolve) => setTimeout(resolve, 1000))
      assert.equal(receiver.requests.filter(pathIs(path)).length, 3)
    } finally {
      receiver.respond = () => ({ status: 200 })
      await service.close()
    }
  })
})

async function runReplay(env: Record<string, string>, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [`${ROOT}src/replay/cli.ts`, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, output }
}
