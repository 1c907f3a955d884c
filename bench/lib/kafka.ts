// The benchmark's side of Kafka: topics created up front, results produced in large
// batches with several sends in flight (or at a fixed rate), and the bare-consumer ceiling.
import { randomUUID } from 'node:crypto'
import { Admin, Consumer, MessagesStreamModes, ProduceAcks, Producer, stringDeserializer, type Message, type MessageToProduce } from '@platformatic/kafka'
import { originOf, partitionOf, RESULT_KEY, resultJson, type Layout } from './messages.ts'

export interface BenchTopics {
  KAFKA_TOPIC_FOR_SENDING: string
  KAFKA_TOPIC_FOR_AI_HANDLER: string
  KAFKA_TOPIC_DLQ: string
  KAFKA_TOPIC_FOR_NOTIFICATIONS: string
  KAFKA_GROUP_ID: string
}

/** Fresh names for one run of the service; all start with bench-<mode>-<id> (easy to find and delete later). */
export function freshTopics(label: string): BenchTopics {
  const id = `bench-${label}-${randomUUID().slice(0, 8)}`
  return {
    KAFKA_TOPIC_FOR_SENDING: `${id}.sending`,
    KAFKA_TOPIC_FOR_AI_HANDLER: `${id}.AI_handler`,
    KAFKA_TOPIC_DLQ: `${id}.dlq`,
    KAFKA_TOPIC_FOR_NOTIFICATIONS: `${id}.notifications`,
    KAFKA_GROUP_ID: `${id}.group`,
  }
}

const TOPICS_VISIBLE_TIMEOUT_MS = 30_000
const TOPICS_VISIBLE_POLL_MS = 100

/**
 * Creates the four topics with the service's layout, so producing can start before the
 * service, and returns once the broker's metadata shows every partition with a leader:
 * CreateTopics answers before that, and a producer or consumer that asks too early gets
 * "Unknown topic or partition".
 */
export async function createTopics(brokers: string[], topics: BenchTopics, partitions: number): Promise<void> {
  const names = [topics.KAFKA_TOPIC_FOR_SENDING, topics.KAFKA_TOPIC_FOR_AI_HANDLER, topics.KAFKA_TOPIC_DLQ, topics.KAFKA_TOPIC_FOR_NOTIFICATIONS]
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: brokers, retries: 3, retryDelay: 500 })
  try {
    await admin.createTopics({ topics: names, partitions, replicas: 1 })
    await waitUntilVisible(admin, names, partitions)
  } finally {
    await admin.close()
  }
}

async function waitUntilVisible(admin: Admin, names: string[], partitions: number): Promise<void> {
  const deadline = Date.now() + TOPICS_VISIBLE_TIMEOUT_MS
  let missing = names
  for (;;) {
    try {
      const metadata = await admin.metadata({ topics: names, forceUpdate: true })
      missing = names.filter((name) => {
        const topic = metadata.topics.get(name)
        return !topic || topic.partitionsCount !== partitions || topic.partitions.some((partition) => partition.leader < 0)
      })
      if (missing.length === 0) return
    } catch {
      // Unknown topic or partition: not propagated yet.
    }
    if (Date.now() > deadline) throw new Error(`topics not visible in the broker's metadata after ${TOPICS_VISIBLE_TIMEOUT_MS} ms: ${missing.join(', ')}`)
    await sleep(TOPICS_VISIBLE_POLL_MS)
  }
}

/** True when a broker answers a metadata request within the time. */
export async function brokerAnswers(brokers: string[], timeoutMs = 5000): Promise<boolean> {
  const admin = new Admin({ clientId: 'bench-probe', bootstrapBrokers: brokers, retries: 0, timeout: timeoutMs })
  try {
    await Promise.race([admin.listTopics(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref())])
    return true
  } catch {
    return false
  } finally {
    await admin.close().catch(() => undefined)
  }
}

export interface ProduceOptions {
  brokers: string[]
  topic: string
  n: number
  base: number
  layout: Layout
  /** Callback origins, by origin index. */
  origins: readonly string[]
  batchSize: number
  sendsInFlight: number
  /** Results per second; unlimited when absent. */
  rate?: number
  onProgress?: (produced: number) => void
  /** Stops producing early (the run is being abandoned). */
  signal?: AbortSignal
}

export interface ProduceReport {
  produced: number
  seconds: number
  perSecond: number
  /** Fixed rate only: the largest lag behind schedule, in ms. */
  maxLagMs?: number
}

/**
 * Produces results base … base + n - 1 to `topic`, key new_sending, spread over partitions
 * and origins; `sent_at` is stamped when the batch is built (just before it is sent).
 */
export async function produceResults(options: ProduceOptions): Promise<ProduceReport> {
  const { n, batchSize, sendsInFlight, layout, rate } = options
  const callbackUrls = options.origins.map((origin) => `${origin}/hook`)
  const key = Buffer.from(RESULT_KEY)
  // Idempotent: a retried send must not write its batch twice. Without it, runs had up to
  // 5 % more records in the topic than results (2,497 extra for 50,000), which the service
  // then skipped as duplicates.
  const producer = new Producer({ clientId: 'bench-producer', bootstrapBrokers: options.brokers, acks: ProduceAcks.ALL, idempotent: true, retries: 5, retryDelay: 250 })
  const started = performance.now()
  const startedAt = Date.now()
  let next = 0
  let produced = 0
  let maxLagMs = 0

  const batch = (count: number): MessageToProduce[] => {
    const sentAt = Date.now()
    const messages: MessageToProduce[] = new Array<MessageToProduce>(count)
    for (let j = 0; j < count; j++, next++) {
      messages[j] = {
        topic: options.topic,
        partition: partitionOf(layout, next),
        key,
        value: Buffer.from(resultJson(options.base + next, callbackUrls[originOf(layout, next)] as string, sentAt)),
      }
    }
    return messages
  }

  /** How many results should have been produced by now. */
  const due = (): number => (rate === undefined ? n : Math.min(n, Math.floor(((Date.now() - startedAt) / 1000) * rate)))

  const sender = async (): Promise<void> => {
    while (next < n && !options.signal?.aborted) {
      const ready = due() - next
      if (ready <= 0) {
        // Fixed rate: wait for the next result to become due (at most one batch's worth of time).
        await sleep(rate === undefined ? 0 : Math.max(1, Math.min(20, 1000 / rate)))
        continue
      }
      if (rate !== undefined) maxLagMs = Math.max(maxLagMs, (ready / rate) * 1000)
      const messages = batch(Math.min(ready, batchSize))
      await producer.send({ messages })
      produced += messages.length
      options.onProgress?.(produced)
    }
  }

  try {
    await Promise.all(Array.from({ length: sendsInFlight }, sender))
  } finally {
    await producer.close()
  }
  const seconds = (performance.now() - started) / 1000
  return { produced, seconds, perSecond: produced / seconds, ...(rate === undefined ? {} : { maxLagMs: Math.round(maxLagMs) }) }
}

export interface ConsumeCeiling {
  consumed: number
  /** From subscribing to the n-th message. */
  totalSeconds: number
  /** From the first to the n-th message (comparable to first-to-last delivery). */
  windowSeconds: number
  perSecond: number
  complete: boolean
}

/**
 * Ceiling (a): a bare Consumer (new group, EARLIEST, autocommit off, the service's
 * deserializers and maxWaitTime) merely consuming n messages of `topic`.
 */
export async function consumeCeiling(options: { brokers: string[]; topic: string; n: number; stallMs: number; onProgress?: (consumed: number) => void }): Promise<ConsumeCeiling> {
  const consumer = new Consumer<string, Buffer, Buffer, Buffer>({
    clientId: 'bench-ceiling-consumer',
    groupId: `bench-ceiling-${randomUUID()}`,
    bootstrapBrokers: options.brokers,
    deserializers: { key: stringDeserializer },
    autocommit: false,
  })
  const started = performance.now()
  let first = 0
  let last = 0
  let consumed = 0
  try {
    const stream = await consumer.consume({ topics: [options.topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 500 })
    let lastProgress = performance.now()
    const complete = await new Promise<boolean>((resolve) => {
      const finish = (done: boolean) => {
        clearInterval(watchdog)
        resolve(done)
      }
      const watchdog = setInterval(() => {
        options.onProgress?.(consumed)
        if (performance.now() - lastProgress > options.stallMs) finish(false)
      }, 200)
      stream.on('data', (_message: Message<string, Buffer, Buffer, Buffer>) => {
        const now = performance.now()
        if (consumed === 0) first = now
        consumed++
        last = now
        lastProgress = now
        if (consumed === options.n) finish(true)
      })
      stream.on('error', () => finish(false))
    })
    options.onProgress?.(consumed)
    await stream.close().catch(() => undefined)
    const windowSeconds = (last - first) / 1000
    return { consumed, totalSeconds: (last - started) / 1000, windowSeconds, perSecond: windowSeconds > 0 ? consumed / windowSeconds : 0, complete }
  } finally {
    await consumer.close(true).catch(() => undefined)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
