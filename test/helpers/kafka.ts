// Real-broker helpers: unique topic names per test, producing records, reading a topic.
import { randomUUID } from 'node:crypto'
import {
  Consumer,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka'

export const BROKERS = (process.env.KAFKA_BOOTSTRAP_SERVERS ?? '127.0.0.1:9092').split(',')

export interface TestTopics {
  KAFKA_TOPIC_FOR_SENDING: string
  KAFKA_TOPIC_FOR_AI_HANDLER: string
  KAFKA_TOPIC_DLQ: string
  KAFKA_TOPIC_FOR_NOTIFICATIONS: string
  KAFKA_GROUP_ID: string
}

/** Fresh topic and group names, so tests never see each other's records. */
export function uniqueTopics(prefix = 't'): TestTopics {
  const id = `${prefix}-${randomUUID().slice(0, 8)}`
  return {
    KAFKA_TOPIC_FOR_SENDING: `${id}.sending`,
    KAFKA_TOPIC_FOR_AI_HANDLER: `${id}.AI_handler`,
    KAFKA_TOPIC_DLQ: `${id}.dlq`,
    KAFKA_TOPIC_FOR_NOTIFICATIONS: `${id}.notifications`,
    KAFKA_GROUP_ID: `${id}.group`,
  }
}

export interface TestRecord {
  topic: string
  key?: string
  value: string | Buffer
}

export async function produce(records: TestRecord[]): Promise<void> {
  const producer = new Producer({ clientId: 'test-producer', bootstrapBrokers: BROKERS, serializers: { ...stringSerializers, value: (v?: string | Buffer) => (typeof v === 'string' ? Buffer.from(v) : v) } })
  try {
    for (let i = 0; i < records.length; i += 1000) {
      await producer.send({ messages: records.slice(i, i + 1000).map((r) => ({ topic: r.topic, ...(r.key === undefined ? {} : { key: r.key }), value: r.value })) })
    }
  } finally {
    await producer.close()
  }
}

export interface ReadRecord {
  key: string | undefined
  value: string
  headers: Map<string, string>
}

/** Reads a topic from the beginning until `count` records arrived (or the time is up). */
export async function readTopic(topic: string, count: number, timeoutMs = 20_000): Promise<ReadRecord[]> {
  const consumer = new Consumer({
    clientId: 'test-reader',
    groupId: `reader-${randomUUID()}`,
    bootstrapBrokers: BROKERS,
    deserializers: stringDeserializers,
  })
  const records: ReadRecord[] = []
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 200 })
    const deadline = setTimeout(() => void stream.close(), timeoutMs)
    try {
      for await (const message of stream) {
        records.push({ key: message.key, value: message.value ?? '', headers: message.headers })
        if (records.length >= count) break
      }
    } finally {
      clearTimeout(deadline)
      await stream.close().catch(() => undefined)
    }
  } finally {
    await consumer.close(true)
  }
  return records
}
