// A broker connection that errs twice (the soak saw it: a broker killed during SASL
// re-authentication) must not kill the process. @platformatic/kafka's pool listens to a
// connection's 'error' only once, so the second one has no listener and Node throws it as
// an uncaught exception; listenToConnectionErrors gives each connection a listener for life.
// Real producer, real broker; the errors are emitted on the connection the client opened.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Admin, Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka'
import { listenToConnectionErrors } from '../../src/kafka/connection-errors.ts'
import { BROKERS, uniqueTopics } from '../helpers/kafka.ts'

/** A healthy connection told it erred is dropped from the pool but stays open: closed by the test. */
type Connection = { emit(event: 'error', error: Error): boolean; close(): Promise<void> }

/** A producer connected to the broker (one record sent), and the connections it opened. */
async function connectedProducer(guarded: boolean, onError?: (error: Error, broker: string) => void) {
  const topic = uniqueTopics('connerr').KAFKA_TOPIC_FOR_SENDING
  const admin = new Admin({ clientId: 'connection-errors-test-admin', bootstrapBrokers: BROKERS })
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 }).finally(() => admin.close())
  const producer = new Producer({ clientId: 'connection-errors-test', bootstrapBrokers: BROKERS, serializers: stringSerializers, acks: ProduceAcks.LEADER })
  const connections: Connection[] = []
  producer.on('client:broker:connect', ({ connection }: { connection: Connection }) => connections.push(connection))
  if (guarded) listenToConnectionErrors(producer, onError)
  await producer.send({ messages: [{ topic, key: 'k', value: 'first' }] })
  assert.ok(connections.length > 0, 'the producer opened a connection')
  return { producer, connections, topic }
}

describe('Kafka connection errors', () => {
  test('without a listener of ours, the second error on a connection is thrown (the library listens once)', async () => {
    const { producer, connections } = await connectedProducer(false)
    try {
      const connection = connections[0]!
      connection.emit('error', new Error('first'))
      assert.throws(() => connection.emit('error', new Error('second')), /second/)
    } finally {
      await producer.close(true)
      await Promise.all(connections.map((connection) => connection.close()))
    }
  })

  test('with listenToConnectionErrors, both errors are heard, nothing is thrown, and the producer sends again', async () => {
    const heard: string[] = []
    const { producer, connections, topic } = await connectedProducer(true, (error, broker) => heard.push(`${broker} ${error.message}`))
    try {
      const connection = connections[0]!
      assert.doesNotThrow(() => connection.emit('error', new Error('first')))
      assert.doesNotThrow(() => connection.emit('error', new Error('second')))
      assert.equal(heard.length, 2)
      assert.match(heard[1]!, /^[\w.-]+:\d+ second$/)
      await producer.send({ messages: [{ topic, key: 'k', value: 'after' }] })
    } finally {
      await producer.close(true)
      await Promise.all(connections.map((connection) => connection.close()))
    }
  })
})
