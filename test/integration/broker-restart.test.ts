// The Kafka broker stopped for longer than the client's own retries, then started again:
// the service shows not-ready meanwhile, joins its groups again by itself, and delivers
// what was produced before and after, each once. The broker is the test's own (its own
// directory and ports from the OS): the shared one serves other checkouts.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { plaintextConnection } from '../../src/kafka/connection.ts'
import { produce, uniqueTopics } from '../helpers/kafka.ts'
import { createPrivateBroker, type PrivateBroker } from '../helpers/private-broker.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { allCommitted, metricValue, startService, testEnv, waitUntil, type RunningService } from '../helpers/service.ts'

let receiver: Receiver
let broker: PrivateBroker | undefined
let service: RunningService | undefined

before(async () => {
  receiver = await startReceiver()
  broker = await createPrivateBroker()
  await broker.start()
})

after(async () => {
  await service?.close()
  await broker?.remove()
  await receiver?.close()
})

/** Lines of the instance's log file whose message is `msg`. */
function logged(env: Record<string, string>, msg: string): number {
  let text: string
  try {
    text = readFileSync(join(env.LOG_DIR ?? '', 'notification_service.log'), 'utf8')
  } catch {
    return 0
  }
  return text.split('\n').filter((line) => line.includes(`"msg":${JSON.stringify(msg)}`)).length
}

describe('broker restart', () => {
  test('broker gone past the client\'s own retries: not ready meanwhile, back by itself, every notification delivered once', async () => {
    const brokers = broker!.brokers
    const topics = uniqueTopics('broker')
    const env = testEnv(topics, { KAFKA_BOOTSTRAP_SERVERS: brokers.join(',') })
    service = await startService(env)
    const readyz = async () => (await fetch(`http://127.0.0.1:${service?.app.httpPort}/readyz`)).status
    const batch = () => Array.from({ length: 50 }, () => newProcessingId())
    const records = (ids: number[]) => ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/broker/${id}`)) }))
    const mine = (ids: number[]) => (request: { path: string }) => ids.some((id) => request.path === `/broker/${id}`)

    const first = batch()
    await produce(records(first), plaintextConnection(brokers))
    await receiver.waitFor(first.length, 20_000, mine(first))
    await waitUntil(async () => (await metricValue(service!.app, 'notifications_delivered_total')) >= first.length, 20_000, 'first batch settled')

    await broker!.stop()
    await waitUntil(async () => (await readyz()) === 503, 30_000, 'not ready without Kafka')
    // Instead of a fixed 30 s: the broker stays away until a consumer loop has given up on its
    // client's own retries and is in the service's own loop of joining again (logged at warn).
    await waitUntil(() => logged(env, 'joining the group again failed: will retry') > 0, 120_000, 'the service retrying to join by itself')
    await broker!.start()

    const second = batch()
    await produce(records(second), plaintextConnection(brokers))
    await receiver.waitFor(second.length, 90_000, mine(second))
    await waitUntil(async () => (await readyz()) === 200, 90_000, 'ready again')
    await allCommitted(env, 90_000)
    const all = [...first, ...second]
    assert.equal(receiver.requests.filter(mine(all)).length, all.length, 'each delivered exactly once')
  })
})
