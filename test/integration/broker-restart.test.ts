// The Kafka broker stopped for longer than the client's own retries, then started again:
// the service shows not-ready meanwhile, joins its groups again by itself, and delivers
// what was produced before and after, each once.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { produce, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { ROOT, metricValue, startService, testEnv, waitUntil, type RunningService } from '../helpers/service.ts'

let receiver: Receiver
let service: RunningService | undefined

before(async () => {
  receiver = await startReceiver()
})

after(async () => {
  execFileSync('bash', [`${ROOT}scripts/kafka.sh`, 'start'], { stdio: 'ignore' })
  await service?.close()
  await receiver?.close()
})

// Asynchronous on purpose: the service runs in this process, and a blocked event loop
// would turn answers already sent by the receiver into client-side timeouts.
const kafka = (command: 'start' | 'stop') => promisify(execFile)('bash', [`${ROOT}scripts/kafka.sh`, command], { timeout: 120_000 })

describe('broker restart', () => {
  test('30 s without a broker: not ready meanwhile, back by itself, every notification delivered once', async () => {
    const topics = uniqueTopics('broker')
    service = await startService(testEnv(topics))
    const readyz = async () => (await fetch(`http://127.0.0.1:${service?.app.httpPort}/readyz`)).status
    const batch = () => Array.from({ length: 50 }, () => newProcessingId())
    const records = (ids: number[]) => ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/broker/${id}`)) }))
    const mine = (ids: number[]) => (request: { path: string }) => ids.some((id) => request.path === `/broker/${id}`)

    const first = batch()
    await produce(records(first))
    await receiver.waitFor(first.length, 20_000, mine(first))
    await waitUntil(async () => (await metricValue(service!.app, 'notifications_delivered_total')) >= first.length, 20_000, 'first batch settled')

    await kafka('stop')
    await waitUntil(async () => (await readyz()) === 503, 30_000, 'not ready without Kafka')
    await new Promise((resolve) => setTimeout(resolve, 30_000))
    await kafka('start')

    const second = batch()
    await produce(records(second))
    await receiver.waitFor(second.length, 90_000, mine(second))
    await waitUntil(async () => (await readyz()) === 200, 90_000, 'ready again')
    const all = [...first, ...second]
    assert.equal(receiver.requests.filter(mine(all)).length, all.length, 'each delivered exactly once')
  })
})
