// Real-broker helpers: unique topic names per test, producing records, reading a topic.
import { randomUUID } from 'node:crypto'
import {
  Admin,
  Consumer,
  ListOffsetTimestamps,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka'
import { plaintextConnection, type KafkaConnection } from '../../src/kafka/connection.ts'

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
  /** Where it goes; unset: the producer's partitioner (by key). */
  partition?: number
  /** Kafka headers, e.g. a W3C traceparent. */
  headers?: Record<string, string>
}

/** Produces with acks=all and idempotence (a send retried after a leader change on a new topic must not write its batch twice), 1000 records per request; over `connection` (default: plaintext to BROKERS; the broker-restart test and the cluster tests pass their own). */
export async function produce(records: TestRecord[], connection: KafkaConnection = plaintextConnection(BROKERS)): Promise<void> {
  const producer = new Producer({ clientId: 'test-producer', ...connection, acks: ProduceAcks.ALL, idempotent: true, serializers: { ...stringSerializers, value: (v?: string | Buffer) => (typeof v === 'string' ? Buffer.from(v) : v) } })
  try {
    for (let i = 0; i < records.length; i += 1000) {
      await producer.send({ messages: records.slice(i, i + 1000).map(toMessage) })
    }
  } finally {
    await producer.close()
  }
}

/** A TestRecord as the producer takes it. */
export function toMessage(r: TestRecord): { topic: string; key?: string; value: string | Buffer; partition?: number; headers?: Record<string, string> } {
  return {
    topic: r.topic,
    ...(r.key === undefined ? {} : { key: r.key }),
    value: r.value,
    ...(r.partition === undefined ? {} : { partition: r.partition }),
    ...(r.headers === undefined ? {} : { headers: r.headers }),
  }
}

export interface ReadRecord {
  key: string | undefined
  value: string
  headers: Map<string, string>
}

/** Reads a topic from the beginning until `count` records arrived (or the time is up). */
export function readTopic(topic: string, count: number, timeoutMs = 20_000, connection: KafkaConnection = plaintextConnection(BROKERS)): Promise<ReadRecord[]> {
  return readTopicUntil(topic, (records) => records.length >= count, timeoutMs, connection)
}

/**
 * Reads a topic from the beginning until `enough(records)` says so, after each record (or
 * the time is up); gives every record read.
 */
export async function readTopicUntil(topic: string, enough: (records: ReadRecord[]) => boolean, timeoutMs = 20_000, connection: KafkaConnection = plaintextConnection(BROKERS)): Promise<ReadRecord[]> {
  const consumer = new Consumer({
    clientId: 'test-reader',
    groupId: `reader-${randomUUID()}`,
    ...connection,
    deserializers: stringDeserializers,
  })
  const records: ReadRecord[] = []
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 200 })
    const deadline = setTimeout(() => void stream.close(), timeoutMs)
    try {
      for await (const message of stream) {
        records.push({ key: message.key, value: message.value ?? '', headers: message.headers })
        if (enough(records)) break
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

/**
 * Per topic, how many records `groupId` has not committed yet (end offset minus committed
 * offset, summed over partitions). The service commits an offset only once its record
 * reached a durable end (delivered, skipped, dead-lettered or parked in a retry tier), so 0
 * means: every record up to now is finished and none will be handled again.
 */
export async function uncommitted(groupId: string, topics: string[], brokers: string[] | KafkaConnection = BROKERS): Promise<Map<string, number>> {
  const admin = new Admin({ clientId: 'test-offsets', ...(Array.isArray(brokers) ? plaintextConnection(brokers) : brokers) })
  try {
    const metadata = await admin.metadata({ topics })
    const ends = await admin.listOffsets({
      topics: topics.map((name) => ({
        name,
        partitions: Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST })),
      })),
    })
    const [group] = await admin.listConsumerGroupOffsets({ groups: [{ groupId, topics: topics.map((name) => ({ name, partitionIndexes: Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, i) => i) })) }] })
    const lag = new Map<string, number>()
    for (const topic of ends) {
      const committed = group?.topics.find((t) => t.name === topic.name)?.partitions ?? []
      let behind = 0
      for (const partition of topic.partitions) {
        const at = committed.find((p) => p.partitionIndex === partition.partitionIndex)?.committedOffset ?? -1n
        behind += Number(partition.offset - (at < 0n ? 0n : at))
      }
      lag.set(topic.name, behind)
    }
    return lag
  } finally {
    await admin.close()
  }
}

/** Resolves once `groupId` has committed every record of `topics` (see `uncommitted`). */
export async function waitForCommitted(groupId: string, topics: string[], timeoutMs = 60_000, brokers: string[] | KafkaConnection = BROKERS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = new Map<string, number>()
  while (Date.now() < deadline) {
    last = await uncommitted(groupId, topics, brokers).catch(() => last)
    if (last.size === topics.length && [...last.values()].every((n) => n === 0)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`group ${groupId} did not commit everything within ${timeoutMs} ms: ${JSON.stringify(Object.fromEntries(last))} uncommitted`)
}
