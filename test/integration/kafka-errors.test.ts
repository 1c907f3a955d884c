// How a failed produce is read, with the real Kafka client on real sockets: a broker that
// refuses the record is final (the record goes to the dead-letter topic), a connection that
// breaks is an outage to wait out. A record dead-lettered for an outage would be a delivered
// notification whose outcome is never told, or a retry that is never made.
import assert from 'node:assert/strict'
import { tracingChannel } from 'node:diagnostics_channel'
import { createServer, type Server, type Socket } from 'node:net'
import { ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka'
import { after, before, describe, test } from 'node:test'
import { ErrorCodes, NotificationError } from '../../src/errors.ts'
import { loadConfig } from '../../src/config.ts'
import { plaintextConnection } from '../../src/kafka/connection.ts'
import { Publisher } from '../../src/kafka/publisher.ts'
import { ensureTopics } from '../../src/kafka/topics.ts'
import type { TopicNames } from '../../src/names.ts'
import { BROKERS, uniqueTopics } from '../helpers/kafka.ts'

const outcome = { processing_id: 1, status: 'delivered', attempts: 1, last_status_code: 200, at: new Date().toISOString() } as const

/** A TCP server that closes each connection once the client has spoken: to a TLS client, a handshake cut short. */
let closing: Server
const sockets = new Set<Socket>()

before(async () => {
  closing = createServer((socket) => {
    sockets.add(socket)
    socket.once('data', () => socket.destroy())
  })
  await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', resolve))
})

after(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise((resolve) => closing.close(resolve))
})

/** Our topic names for fresh test topics, as the configuration builds them. */
function freshTopics(prefix: string): TopicNames {
  return loadConfig({ ...uniqueTopics(prefix) }).kafka.topics
}

async function produceError(publisher: Publisher, send: () => Promise<void>): Promise<NotificationError> {
  try {
    await send()
  } catch (error) {
    assert.ok(error instanceof NotificationError, String(error))
    return error
  } finally {
    await publisher.close().catch(() => undefined)
  }
  assert.fail('the produce succeeded')
}

describe('a failed produce', () => {
  test('a TLS connection closed mid-handshake (a broker going down or starting) is an outage, retried: KAFKA_UNAVAILABLE', async () => {
    const { port } = closing.address() as { port: number }
    const topics = freshTopics('tls-cut')
    const publisher = new Publisher({ connection: { bootstrapBrokers: [`127.0.0.1:${port}`], tls: {} }, clientId: 'tls-cut', topics })
    const error = await produceError(publisher, () => publisher.outcome(outcome))
    assert.equal(error.code, ErrorCodes.KAFKA_UNAVAILABLE, error.message)
    assert.equal(error.canRetry, true)
    assert.match(error.message, /^Kafka produce failed: /)
  })

  // @platformatic/kafka 2.12 ignores the producer's own `acks` option and sends with acks=1
  // (the leader alone) unless each send says otherwise: the soak saw acknowledged records lost
  // to a broker killed before its followers had them. The acks each send goes out with, read
  // from the client's own diagnostics channel, on the real broker.
  test('every record is produced with acks=all, which the client would not do by its producer option alone', async () => {
    const seen: number[] = []
    const sends = tracingChannel<unknown, { options: { acks?: number } }>('plt:kafka:producer:sends')
    const onStart = (context: { options: { acks?: number } }) => void seen.push(context.options.acks ?? NaN)
    sends.start.subscribe(onStart as never)
    try {
      const topics = freshTopics('acks-all')
      await ensureTopics(plaintextConnection(BROKERS), 'test', [{ name: topics.outcomes }], { partitions: 1, replicationFactor: 1 })
      const bare = new Producer({ clientId: 'acks-bare', ...plaintextConnection(BROKERS), serializers: stringSerializers, acks: ProduceAcks.ALL })
      await bare.send({ messages: [{ topic: topics.outcomes, value: 'x' }] })
      await bare.close()
      assert.deepEqual(seen, [ProduceAcks.LEADER], 'the client sends with acks=1 despite acks: ALL given to its constructor')
      const publisher = new Publisher({ connection: plaintextConnection(BROKERS), clientId: 'acks-all', topics })
      await publisher.outcome(outcome)
      await publisher.close()
      assert.deepEqual(seen, [ProduceAcks.LEADER, ProduceAcks.ALL])
    } finally {
      sends.start.unsubscribe(onStart as never)
    }
  })

  test('a record the broker refuses (larger than the topic takes) is final: KAFKA_REJECTED, naming the broker\'s answer', async () => {
    const topics = freshTopics('too-large')
    await ensureTopics(plaintextConnection(BROKERS), 'test', [{ name: topics.outcomes, configs: { 'max.message.bytes': String(64 * 1024) } }], { partitions: 1, replicationFactor: 1 })
    const publisher = new Publisher({ connection: plaintextConnection(BROKERS), clientId: 'too-large', topics })
    const error = await produceError(publisher, () => publisher.republish(topics.outcomes, null, 'x'.repeat(128 * 1024)))
    assert.equal(error.code, ErrorCodes.KAFKA_REJECTED, error.message)
    assert.equal(error.canRetry, false)
    assert.match(error.message, /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/)
  })
})
