// A replica frozen (SIGSTOP) between taking claims and sending on them, for longer than a
// claim lasts, while another replica of its group delivers everything: once woken (SIGCONT),
// it must not start a send on a claim that expired while it slept (issue 21). To freeze it
// in that window every run, its Redis traffic goes through a small proxy that holds Redis'
// answers back until a claim was answered, then freezes it and hands them on: they wait in
// its socket as they would had the freeze come a moment after Redis answered.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { after, before, test } from 'node:test'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { produce, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type ReceivedRequest, type Receiver } from '../helpers/receiver.ts'
import { allCommitted, readyChild, testEnv, waitUntil, type Child } from '../helpers/service.ts'

const COUNT = 300
const PARTITIONS = 6
const CALLBACK_TIMEOUT_MS = 500
/** claimMs as src/app.ts derives it: the callback timeout + 15 s. */
const CLAIM_MS = CALLBACK_TIMEOUT_MS + 15_000

let receiver: Receiver

before(async () => {
  receiver = await startReceiver(() => ({ status: 200, delayMs: 200 }))
})

after(async () => {
  await receiver?.close()
})

/** A TCP proxy to Redis whose answers to the client can be held back and then handed on. */
interface RedisProxy {
  readonly url: string
  /** From now, answers are kept; resolves once a claim sent meanwhile has been answered. */
  holdUntilClaimAnswered(timeoutMs: number): Promise<void>
  /** Hands on what was kept, and forwards again. */
  release(): void
  close(): Promise<void>
}

async function startRedisProxy(target: URL): Promise<RedisProxy> {
  const sockets = new Set<Socket>()
  const held: Array<{ to: Socket; data: Buffer }> = []
  let holding = false
  let claimSent = false
  let claimAnswered = false
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => undefined)
      socket.on('close', () => (client.destroy(), upstream.destroy()))
    }
    client.on('data', (data) => {
      if (holding && data.includes('notification_lock')) claimSent = true
      upstream.write(data)
    })
    upstream.on('data', (data) => {
      if (!holding) return void client.write(data)
      held.push({ to: client, data })
      // The claim script's answer: an array of (status, ttl) pairs, "1, 0" for claimed.
      if (claimSent && /\*\d+\r\n(?::\d+\r\n:\d+\r\n)*:1\r\n:0\r\n/.test(data.toString('latin1'))) claimAnswered = true
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `redis://127.0.0.1:${port}`,
    async holdUntilClaimAnswered(timeoutMs) {
      holding = true
      await waitUntil(() => claimAnswered, timeoutMs, 'a claim answered while held')
    },
    release() {
      holding = false
      for (const { to, data } of held.splice(0)) to.write(data)
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Sum of a gauge over its labels, from a child's /metrics. */
async function gauge(child: Child, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${child.httpPort}/metrics`)).text()
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
}

const idOf = (request: ReceivedRequest): number => (request.json as { response: { processing_id: number } }).response.processing_id

test('a replica frozen longer than its claims last sends nothing, once woken, that the other replica already delivered', { timeout: 120_000 }, async () => {
  const topics = uniqueTopics('frozen')
  const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
  const proxy = await startRedisProxy(redis)
  const base = { CALLBACK_TIMEOUT_MS: String(CALLBACK_TIMEOUT_MS), RETRY_SCHEDULE: '1s' }
  const env = testEnv(topics, base)
  const children: Child[] = []
  try {
    const frozen = await readyChild(testEnv(topics, { ...base, REDIS_URL: proxy.url }))
    children.push(frozen)
    const other = await readyChild(env)
    children.push(other)
    const ids = Array.from({ length: COUNT }, () => newProcessingId())
    const path = `/frozen/${topics.KAFKA_GROUP_ID}`
    const records = ids.map((id, i) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, partition: i % PARTITIONS, value: JSON.stringify(successResult(id, `${receiver.url}${path}`)) }))
    const ours = (request: ReceivedRequest) => request.path === path
    await produce(records)

    // Both replicas delivering: the one to freeze has attempts in flight and claims it is about to send on.
    await waitUntil(async () => (await gauge(frozen, 'notifications_in_flight')) > 0 && (await gauge(other, 'notifications_in_flight')) > 0, 30_000, 'both replicas delivering')
    await proxy.holdUntilClaimAnswered(10_000)
    frozen.kill('SIGSTOP')
    const stoppedAt = Date.now()
    proxy.release()

    // The other replica takes its partitions over (session timeout) and, once the frozen one's claims expired, delivers everything.
    await waitUntil(() => new Set(receiver.requests.filter(ours).map(idOf)).size === COUNT, 60_000, 'every id received')
    await waitUntil(() => Date.now() - stoppedAt > CLAIM_MS + 1000, CLAIM_MS + 5000, 'the frozen replica’s claims expired')

    const wokeAt = Date.now()
    frozen.kill('SIGCONT')
    // Settled: everything it had taken in reached an end (its in-flight count back to 0), and the group committed everything.
    await waitUntil(async () => (await gauge(frozen, 'notifications_in_flight').catch(() => 1)) === 0, 60_000, 'the woken replica settled')
    await allCommitted(env, 60_000)

    const requests = receiver.requests.filter(ours)
    const before = new Set(requests.filter((request) => request.at < wokeAt).map(idOf))
    const resentAfterWaking = requests.filter((request) => request.at >= wokeAt && before.has(idOf(request))).map(idOf)
    assert.deepEqual(resentAfterWaking, [], `sent again after the wake-up, though delivered while it was frozen: ${resentAfterWaking.length}`)
    assert.equal(new Set(requests.map(idOf)).size, COUNT)
    // Repeats before the wake-up are allowed: requests already on the wire when it froze, answered too late for it to see, sent again by the other replica.
  } finally {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
    }
    await proxy.close()
  }
})
