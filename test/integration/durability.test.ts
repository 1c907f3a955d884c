// Deliveries that survive: retries parked in Kafka retry topics (on time after kill -9,
// never blocking other notifications), Redis outages, and replicas joining and leaving.
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { BROKERS, produce, readTopic, uniqueTopics } from '../helpers/kafka.ts'
import { plaintextConnection } from '../../src/kafka/connection.ts'
import { ensureTopics } from '../../src/kafka/topics.ts'
import { startReceiver, type ReceivedRequest, type Receiver } from '../helpers/receiver.ts'
import { ROOT, allCommitted, freePort, metricValue, readyChild, startService, testEnv, waitUntil } from '../helpers/service.ts'

let receiver: Receiver

before(async () => {
  receiver = await startReceiver()
})

after(async () => {
  await receiver?.close()
})

const pathIs = (path: string) => (request: ReceivedRequest) => request.path === path

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

    const first = await readyChild(env)
    await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}${path}`)) }])
    const [failed] = await receiver.waitFor(1, 20_000, pathIs(path))
    // The retry is parked in its tier topic before the input offset is committed.
    const parked = await readTopic(`${topics.KAFKA_GROUP_ID}.retry.4s`, 1, 10_000)
    assert.equal(parked.length, 1)
    assert.equal((JSON.parse(parked[0]?.value ?? '{}') as { attempts: number }).attempts, 1)
    first.kill('SIGKILL')
    await once(first, 'exit')

    const second = await readyChild(env)
    try {
      const [, retried] = await receiver.waitFor(2, 30_000, pathIs(path))
      const waited = (retried?.at ?? 0) - (failed?.at ?? 0)
      assert.ok(waited >= 4000 * 0.8 - 50, `retried after ${waited} ms, scheduled 4 s ± 20 %`)
      // Kafka hands the dead replica's partitions over after its 10 s session timeout.
      assert.ok(waited < 4000 + 10_000 + 5000, `retried after ${waited} ms`)
      assert.equal(retried?.headers['webhook-id'], failed?.headers['webhook-id'])
      await allCommitted(env)
      assert.equal(receiver.requests.filter(pathIs(path)).length, 2)
    } finally {
      second.kill('SIGTERM')
      await once(second, 'exit')
      receiver.respond = () => ({ status: 200 })
    }
  })

  test('an endpoint that hangs does not slow deliveries to others; once saturated, its notifications wait in a retry tier', async () => {
    const topics = uniqueTopics('hang')
    const service = await startService(testEnv(topics, { CALLBACK_TIMEOUT_MS: '5000', RETRY_SCHEDULE: '1s' }))
    // Another origin (127.0.0.2: Linux routes all of 127/8 to loopback) that never answers.
    const hanging = await startReceiver(() => ({ status: 200, hang: true }), '127.0.0.2')
    try {
      const fast: number[] = []
      let firstHungAt = 0
      // For 4 s: every 200 ms, 5 notifications to the hung endpoint and 20 to healthy ones.
      for (let round = 0; round < 20; round++) {
        const records = []
        for (let i = 0; i < 25; i++) {
          const id = newProcessingId()
          const hung = i < 5
          if (!hung) fast.push(id)
          records.push({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${hung ? hanging.url : receiver.url}/${hung ? 'hang' : 'fast'}/${id}`)) })
        }
        await produce(records)
        if (round === 0) firstHungAt = Date.now()
        // Pacing, not waiting: the load is spread over 4 s on purpose.
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      const delivered = await receiver.waitFor(fast.length, 20_000, (r) => r.path.startsWith('/fast/') && fast.includes(Number(r.path.split('/')[2])))
      const lastFast = Math.max(...delivered.map((r) => r.at))
      assert.ok(lastFast - firstHungAt < 5000, `healthy endpoints were all served ${lastFast - firstHungAt} ms after the hung one began (its timeout: 5000 ms)`)
      const hungAttempts = hanging.requests.length
      assert.ok(hungAttempts < 100, `${hungAttempts} of 100 hung notifications were attempted while it was saturated`)
      assert.ok((await metricValue(service.app, 'notifications_deferred_total', { reason: 'saturated' })) > 0)
    } finally {
      await service.close()
      await hanging.close()
    }
  })

  test('an endpoint that keeps failing gets its circuit opened: its notifications wait in a retry tier without attempts', async () => {
    const topics = uniqueTopics('circuit')
    const service = await startService(testEnv(topics, { RETRY_SCHEDULE: '10s' }))
    const failing = await startReceiver(() => ({ status: 503 }), '127.0.0.3')
    try {
      const ids = Array.from({ length: 60 }, () => newProcessingId())
      for (let i = 0; i < ids.length; i += 10) {
        await produce(ids.slice(i, i + 10).map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${failing.url}/down/${id}`)) })))
        // Pacing, not waiting: later notifications arrive after earlier failures opened the circuit.
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      await waitUntil(async () => (await metricValue(service.app, 'notifications_deferred_total', { reason: 'circuit-open' })) > 0, 20_000, 'circuit opened')
      const metrics = await (await fetch(`http://127.0.0.1:${service.app.httpPort}/metrics`)).text()
      assert.match(metrics, /callback_circuit_state\{origin="http:\/\/127\.0\.0\.3:\d+",state="open"\} 1/)
      assert.ok(failing.requests.length < ids.length, `${failing.requests.length} attempts for ${ids.length} notifications`)
    } finally {
      await service.close()
      await failing.close()
    }
  })

  test('retries due long after their tier\'s delay (429s: a 60 s slow-down) do not hold back that tier: another origin\'s retries go on time', async () => {
    const topics = uniqueTopics('hol')
    // A tier's loop holds at most 20 records: the 429ed ones alone would fill it three times over, were they kept
    // waiting in the 1 s tier for their 60 s slow-down floor.
    const service = await startService(testEnv(topics, { RETRY_SCHEDULE: '1s,2s' }), { tuning: { maxInFlight: 20 } })
    const throttling = await startReceiver(() => ({ status: 429 }), '127.0.0.4')
    const answered = new Map<string, number>()
    const flaky = await startReceiver((request) => {
      const seen = answered.get(request.path) ?? 0
      answered.set(request.path, seen + 1)
      return { status: seen === 0 ? 500 : 200 }
    }, '127.0.0.5')
    const send = (url: string, count: number) => {
      const ids = Array.from({ length: count }, () => newProcessingId())
      return produce(ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${url}/n/${id}`)) })))
    }
    try {
      await send(throttling.url, 60)
      // each 429ed (a 60 s slow-down) or, once the circuit opened, refused (30 s): all waiting
      const waiting = async () => (await metricValue(service.app, 'notification_retries_scheduled_total')) + (await metricValue(service.app, 'notifications_deferred_total'))
      await waitUntil(async () => (await waiting()) >= 60, 20_000, 'the 60 waiting in a tier')
      await send(flaky.url, 5)
      const [first] = await flaky.waitFor(5, 20_000)
      // each answered 500 once: its retry goes to the 1 s tier, behind the 429ed ones
      const retried = await flaky.waitFor(10, 15_000)
      const lastAt = Math.max(...retried.map((request) => request.at))
      assert.ok(lastAt - (first?.at ?? 0) < 10_000, `the other origin's retries came ${lastAt - (first?.at ?? 0)} ms after its first attempts (tier: 1 s)`)
    } finally {
      await service.close()
      await throttling.close()
      await flaky.close()
    }
  })

  test('Redis unavailable: not ready, nothing sent unclaimed; resumes by itself and delivers each once', async () => {
    const port = await freePort()
    const startRedis = () => spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    const redisAnswers = () => new Promise<boolean>((resolve) => execFile('redis-cli', ['-p', String(port), 'ping'], (error, stdout) => resolve(!error && stdout.trim() === 'PONG')))
    const redis = startRedis()
    let restarted: ChildProcess | undefined
    let service: Awaited<ReturnType<typeof startService>> | undefined
    try {
      await waitUntil(redisAnswers, 10_000, 'redis up')
      const topics = uniqueTopics('redis')
      const env = testEnv(topics, { REDIS_URL: `redis://127.0.0.1:${port}` })
      service = await startService(env, { tuning: { infrastructureRetryMs: 200 } })
      const base = `http://127.0.0.1:${service.app.httpPort}`
      redis.kill('SIGTERM')
      await once(redis, 'exit')
      await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 503, 20_000, 'not ready without Redis')

      const ids = Array.from({ length: 20 }, () => newProcessingId())
      await produce(ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/redis/${id}`)) })))
      // All 20 are in the pipeline, and their Redis steps (the claims) failed and were retried
      // twice over since (one retry per waiting step every 200 ms): each of them reached the
      // point where it would be sent, were it claimed.
      await waitUntil(async () => (await metricValue(service!.app, 'notifications_consumed_total', { topic: topics.KAFKA_TOPIC_FOR_SENDING, kind: 'result' })) >= ids.length, 20_000, 'all 20 consumed')
      const retriesConsumed = await metricValue(service.app, 'infrastructure_retries_total')
      await waitUntil(async () => (await metricValue(service!.app, 'infrastructure_retries_total')) >= retriesConsumed + 2 * ids.length, 20_000, 'Redis steps retried after all were consumed')
      assert.equal(processingIds(receiver.requests, '/redis/').length, 0, 'nothing is sent while Redis is down')

      restarted = startRedis()
      await receiver.waitFor(20, 30_000, (r) => r.path.startsWith('/redis/'))
      await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 200, 20_000, 'ready again')
      await allCommitted(env)
      const delivered = processingIds(receiver.requests, '/redis/')
      assert.deepEqual([...delivered].sort(), [...ids].sort())
    } finally {
      await service?.close()
      for (const child of [redis, restarted]) {
        if (child && child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM')
          await once(child, 'exit')
        }
      }
    }
  })

  test('replicas joining and leaving the group mid-stream: every notification delivered exactly once', async () => {
    const topics = uniqueTopics('replicas')
    // Rebalances are under test, not timeouts: the receiver runs in this process beside three
    // instances, and on a starved machine its answers passed the tests' 2 s timeout, which
    // is (rightly) retried and so delivered twice.
    const env = testEnv(topics, { CALLBACK_TIMEOUT_MS: '15000' })
    receiver.respond = () => ({ status: 200, delayMs: 3 })
    let first: Awaited<ReturnType<typeof startService>> | undefined = await startService(env)
    let second: Awaited<ReturnType<typeof startService>> | undefined
    let third: Awaited<ReturnType<typeof startService>> | undefined
    try {
      const ids = Array.from({ length: 3000 }, () => newProcessingId())
      const prefix = `/replicas/${topics.KAFKA_GROUP_ID}/`
      const produced = produce(ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}${prefix}${id}`)) })))
      produced.catch(() => undefined) // awaited below; this only keeps an early failure from going unhandled
      await waitUntil(() => processingIds(receiver.requests, prefix).length >= 300, 60_000, '300 delivered')
      second = await startService(env)
      third = await startService(env)
      await waitUntil(() => processingIds(receiver.requests, prefix).length >= 1500, 60_000, '1500 delivered')
      await first.close()
      first = undefined
      await second.close()
      second = undefined
      await produced
      await waitUntil(() => new Set(processingIds(receiver.requests, prefix)).size === ids.length, 90_000, 'all delivered')
      await allCommitted(env)
      const delivered = processingIds(receiver.requests, prefix)
      assert.equal(new Set(delivered).size, ids.length)
      assert.equal(delivered.length, ids.length, `${delivered.length - ids.length} duplicate deliveries`)
    } finally {
      // Every instance still running, whatever failed: one left open keeps the test process alive.
      receiver.respond = () => ({ status: 200 })
      await first?.close()
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
      await allCommitted(env)
      assert.equal(receiver.requests.filter(pathIs(path)).length, 3)
    } finally {
      receiver.respond = () => ({ status: 200 })
      await service.close()
    }
  })
  test('large records are held back by the in-flight byte budget: a few at a time, all delivered', async () => {
    const topics = uniqueTopics('bytes')
    const budget = 2 * 1024 * 1024
    await ensureTopics(plaintextConnection(BROKERS), 'test', [{ name: topics.KAFKA_TOPIC_FOR_SENDING, configs: { 'max.message.bytes': String(16 * 1024 * 1024) } }], { partitions: 6, replicationFactor: 1 })
    const service = await startService(testEnv(topics), { tuning: { maxInFlightBytes: budget } })
    const delayMs = 400
    receiver.respond = (request) => (request.path.startsWith('/bytes/') ? { status: 200, delayMs } : { status: 200 })
    try {
      const ids = Array.from({ length: 12 }, () => newProcessingId())
      const padding = 'x'.repeat(900 * 1024)
      await produce(ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/bytes/${id}`, { padding })) })))
      const arrivals = (await receiver.waitFor(12, 30_000, (request) => request.path.startsWith('/bytes/'))).map((request) => request.at)
      // Each request is answered after 400 ms: those that arrived within 400 ms of each other were in flight together.
      const together = Math.max(...arrivals.map((at) => arrivals.filter((other) => other >= at && other < at + delayMs - 50).length))
      assert.ok(together <= Math.ceil(budget / (900 * 1024)) + 1, `${together} large records in flight at once with a ${budget}-byte budget`)
      assert.ok(together >= 2, `${together} in flight: the budget still lets several through`)
    } finally {
      receiver.respond = () => ({ status: 200 })
      await service.close()
    }
  })

  test('an oversized record is dead-lettered with its first 64 KiB and the partition moves on', async () => {
    const topics = uniqueTopics('oversized')
    await ensureTopics(plaintextConnection(BROKERS), 'test', [{ name: topics.KAFKA_TOPIC_FOR_SENDING, configs: { 'max.message.bytes': String(4 * 1024 * 1024) } }], { partitions: 6, replicationFactor: 1 })
    const service = await startService(testEnv(topics))
    try {
      const big = newProcessingId()
      const good = newProcessingId()
      const huge = JSON.stringify(successResult(big, `${receiver.url}/big/${big}`, { padding: 'x'.repeat(1536 * 1024) }))
      await produce([
        { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: huge },
        { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(good, `${receiver.url}/big/${good}`)) },
      ])
      await receiver.waitFor(1, 20_000, pathIs(`/big/${good}`))
      const [letter] = await readTopic(topics.KAFKA_TOPIC_DLQ, 1, 20_000)
      const parsed = JSON.parse(letter?.value ?? '{}') as { code: string; reason: string; original: string; original_truncated: boolean }
      assert.equal(parsed.code, 'MESSAGE_SCHEMA')
      assert.match(parsed.reason, /exceeds/)
      assert.equal(parsed.original_truncated, true)
      assert.equal(parsed.original.length, 64 * 1024)
      assert.equal(receiver.requests.filter(pathIs(`/big/${big}`)).length, 0)
    } finally {
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
