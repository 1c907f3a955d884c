// Kafka side of the fault script: topic admin, a producer that keeps trying through a broker
// outage, and a reader that follows a topic (the dead-letter topic) through one.
import { randomUUID } from 'node:crypto'
import {
  Admin,
  ConfigResourceTypes,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
  type MessagesStream,
  type Partitioner,
} from '@platformatic/kafka'
import type { KafkaConnection } from '../../src/kafka/connection.ts'
import { sleep } from './procs.ts'

export const BROKERS = (process.env.KAFKA_BOOTSTRAP_SERVERS ?? '127.0.0.1:9092').split(',')

/** How every client here connects: the plaintext local broker unless useKafkaConnection says otherwise (the soak's SASL_SSL cluster). */
let connection: KafkaConnection = { bootstrapBrokers: BROKERS }

export function useKafkaConnection(next: KafkaConnection): void {
  connection = next
}

function admin(): Admin {
  return new Admin({ clientId: 'faults-admin', ...connection, retries: 3, retryDelay: 500, timeout: 10_000 })
}

async function withAdmin<T>(work: (client: Admin) => Promise<T>): Promise<T> {
  const client = admin()
  try {
    return await work(client)
  } finally {
    await client.close().catch(() => undefined)
  }
}

/** The broker's `message.max.bytes` (largest record batch it accepts by default). */
export async function brokerMaxMessageBytes(): Promise<number | undefined> {
  return withAdmin(async (client) => {
    const metadata = await client.metadata({ topics: [] })
    const brokerId = [...metadata.brokers.keys()][0] ?? 1
    const [description] = await client.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: String(brokerId), configurationKeys: ['message.max.bytes'] }],
    })
    const value = description?.configs.find((config) => config.name === 'message.max.bytes')?.value
    return value ? Number(value) : undefined
  })
}

export async function createTopic(topic: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  await withAdmin((client) =>
    client.createTopics({ topics: [topic], partitions, replicas: 1, configs: Object.entries(configs).map(([name, value]) => ({ name, value })) }),
  )
}

export async function deleteTopicsWithPrefix(prefix: string): Promise<string[]> {
  return withAdmin(async (client) => {
    const topics = (await client.listTopics()).filter((topic) => topic.startsWith(prefix))
    if (topics.length > 0) await client.deleteTopics({ topics })
    return topics
  })
}

export async function topicExists(topic: string): Promise<boolean> {
  return withAdmin(async (client) => (await client.listTopics()).includes(topic))
}

/** The next offset to be written, per partition. */
export async function endOffsets(topic: string): Promise<Map<number, bigint>> {
  return withAdmin(async (client) => {
    const metadata = await client.metadata({ topics: [topic] })
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0
    const partitions = Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }))
    const [listed] = await client.listOffsets({ topics: [{ name: topic, partitions }] })
    return new Map((listed?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]))
  })
}

/** Records of the group not yet committed, summed over every topic it has committed offsets on. */
export async function groupLag(groupId: string): Promise<number> {
  return withAdmin(async (client) => {
    const [group] = await client.listConsumerGroupOffsets({ groups: [groupId] })
    const topics = (group?.topics ?? []).filter((t) => t.partitions.length > 0)
    if (topics.length === 0) return 0
    const listed = await client.listOffsets({ topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, timestamp: -1n })) })) })
    const ends = new Map(listed.flatMap((t) => t.partitions.map((p) => [`${t.name}/${p.partitionIndex}`, p.offset] as const)))
    let lag = 0n
    for (const topic of topics) {
      for (const p of topic.partitions) {
        const end = ends.get(`${topic.name}/${p.partitionIndex}`) ?? 0n
        if (p.committedOffset >= 0n && end > p.committedOffset) lag += end - p.committedOffset
      }
    }
    return Number(lag)
  })
}

// ----------------------------------------------------------------- producer ---

export interface OutRecord {
  key: string
  value: string
  /** Filled at the first attempt to produce it (ms since the epoch). */
  producedAt?: number
  /** Send on its own (large records: two would not fit one batch). */
  alone?: boolean
}

export interface StreamOptions {
  topic: string
  records: OutRecord[]
  durationMs: number
  /** all records with one key land in one partition (as the real producer does); default: spread them */
  byKey: boolean
  signal: AbortSignal
  onEvent: (text: string) => void
  onProgress: (produced: number) => void
}

const SEND_TIMEOUT_MS = 20_000
const MAX_BATCH = 500

export function newProducer(byKey: boolean): Producer<string, string, string, string> {
  let next = 0
  // round robin over the topic's partitions (the key stays `new_sending`)
  const spread: Partitioner<string, string, string, string> = (message, _key, context) =>
    next++ % (context.metadata?.topics.get(message.topic)?.partitionsCount ?? 1)
  return new Producer({
    clientId: 'faults-producer',
    ...connection,
    serializers: stringSerializers,
    acks: ProduceAcks.ALL, // ignored by send() in @platformatic/kafka 2.12: each send passes it too
    retries: 2,
    retryDelay: 300,
    timeout: 10_000,
    connectTimeout: 3000,
    ...(byKey ? {} : { partitioner: spread }),
  })
}

/**
 * Produces `records` at a steady rate over `durationMs` (in 100 ms ticks). A failed send is
 * retried (with a new producer) until it succeeds: during a broker outage the due records pile
 * up and go out together once it is back. Resolves when every record is acknowledged.
 */
export async function produceSteadily(options: StreamOptions): Promise<void> {
  const { records, durationMs, signal } = options
  const started = Date.now()
  let producer = newProducer(options.byKey)
  let sent = 0
  let failingSince: number | undefined
  try {
    while (sent < records.length) {
      if (signal.aborted) throw new Error('aborted')
      const elapsed = Date.now() - started
      const due = Math.min(records.length, Math.ceil((records.length * elapsed) / durationMs))
      if (due <= sent) {
        await sleep(100)
        continue
      }
      // one send: every normal record due, or a single "alone" record
      let end = sent
      if (records[sent]?.alone) end = sent + 1
      // at most MAX_BATCH per send: after an outage the due records would otherwise go out
      // as one request larger than the broker accepts (MESSAGE_TOO_LARGE, retried forever)
      else while (end < due && end - sent < MAX_BATCH && !records[end]?.alone) end++
      const batch = records.slice(sent, end)
      const now = Date.now()
      for (const record of batch) record.producedAt ??= now
      try {
        await withTimeout(
          producer.send({ messages: batch.map((r) => ({ topic: options.topic, key: r.key, value: r.value })), acks: ProduceAcks.ALL }),
          SEND_TIMEOUT_MS,
        )
        sent = end
        options.onProgress(sent)
        if (failingSince !== undefined) {
          options.onEvent(`producer: sending again after ${((Date.now() - failingSince) / 1000).toFixed(1)} s of failures`)
          failingSince = undefined
        }
      } catch (error) {
        if (failingSince === undefined) {
          failingSince = Date.now()
          options.onEvent(`producer: send failed (${shortError(error)}); retrying`)
        }
        void producer.close(true).catch(() => undefined)
        producer = newProducer(options.byKey)
        await sleep(500)
      }
    }
  } finally {
    await producer.close().catch(() => undefined)
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export function shortError(error: unknown): string {
  const e = error as { message?: string; errors?: Array<{ message?: string }> }
  const inner = e.errors?.[0]?.message
  return `${e.message ?? String(error)}${inner ? `: ${inner}` : ''}`.slice(0, 160)
}

// ------------------------------------------------------------------- reader ---

export interface ReadRecord {
  partition: number
  offset: bigint
  key: string | undefined
  value: string
  headers: Map<string, string>
}

/** A run of offsets of one partition that a reader passed over without reading. */
export interface SkippedRange {
  partition: number
  from: bigint
  to: bigint
}

/**
 * Follows a topic from the beginning, through broker outages (a failed stream is reopened
 * with a fresh group and read again from the start; records are kept once per offset).
 * An offset out of range sends it back to the earliest offset, never ahead to the latest (the
 * library's default), which would pass over what was written meanwhile.
 */
export class TopicReader {
  readonly topic: string
  readonly records = new Map<string, ReadRecord>()
  /** When the reader got a record further on than the next offset of its partition (a skip, perhaps filled in later). */
  readonly jumps: Array<SkippedRange & { at: number }> = []
  readonly #seen = new Map<number, bigint>()
  readonly #onRecord: (record: ReadRecord) => void
  #stopped = false
  #stream: MessagesStream<string, string, string, string> | undefined
  #loop: Promise<void> | undefined
  #restart: (() => void) | undefined
  /** When the last new record arrived: a reader is only reopened when it stopped getting any. */
  #lastNewAt = Date.now()

  constructor(topic: string, onRecord: (record: ReadRecord) => void) {
    this.topic = topic
    this.#onRecord = onRecord
  }

  start(): void {
    this.#loop = this.#run()
  }

  /** True once every partition was read up to `ends` (from endOffsets). */
  caughtUp(ends: Map<number, bigint>): boolean {
    for (const [partition, end] of ends) {
      if (end > 0n && (this.#seen.get(partition) ?? -1n) < end - 1n) return false
    }
    return true
  }

  /** Reads until caught up with the topic's end offsets as of now (or the time is up). */
  async catchUp(timeoutMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    let ends: Map<number, bigint> | undefined
    let restartedAt = Date.now()
    while (Date.now() < deadline) {
      ends ??= await endOffsets(this.topic).catch(() => undefined)
      if (ends && this.caughtUp(ends)) return true
      // Stuck (no new record for 20 s): reopen. Not merely slow: a fresh reader of a
      // 30-minute run's million records reopened every 20 s from the start and never finished.
      if (Date.now() - Math.max(restartedAt, this.#lastNewAt) > 20_000) {
        this.#restart?.()
        restartedAt = Date.now()
      }
      await sleep(250)
    }
    return false
  }

  /** The highest offset read of a partition (-1 when none). */
  readUpTo(partition: number): bigint {
    return this.#seen.get(partition) ?? -1n
  }

  /** Offsets below the highest read of each partition that were never read (none in a topic without gaps such as compaction leaves). */
  skipped(): SkippedRange[] {
    const ranges: SkippedRange[] = []
    for (const [partition, last] of this.#seen) {
      let from: bigint | undefined
      for (let offset = 0n; offset <= last; offset++) {
        const read = this.records.has(`${partition}:${offset}`)
        if (!read && from === undefined) from = offset
        if (read && from !== undefined) {
          ranges.push({ partition, from, to: offset - 1n })
          from = undefined
        }
      }
    }
    return ranges
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#restart?.()
    await this.#loop
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const consumer = new Consumer({
        clientId: 'faults-reader',
        groupId: `faults-reader-${randomUUID()}`,
        ...connection,
        deserializers: stringDeserializers,
        retries: 3,
        retryDelay: 500,
        timeout: 10_000,
        connectTimeout: 3000,
      })
      try {
        const stream = await consumer.consume({ topics: [this.topic], mode: MessagesStreamModes.EARLIEST, fallbackMode: MessagesStreamFallbackModes.EARLIEST, autocommit: false, maxWaitTime: 300 })
        this.#stream = stream
        await new Promise<void>((resolve) => {
          this.#restart = () => {
            void stream.close().catch(() => undefined)
            resolve()
          }
          stream.on('data', (message) => {
            const key = `${message.partition}:${message.offset}`
            if (this.records.has(key)) return
            const record: ReadRecord = { partition: message.partition, offset: message.offset, key: message.key, value: message.value ?? '', headers: message.headers }
            this.records.set(key, record)
            this.#lastNewAt = Date.now()
            const seen = this.#seen.get(message.partition)
            if (message.offset > (seen ?? -1n) + 1n) this.jumps.push({ partition: message.partition, from: (seen ?? -1n) + 1n, to: message.offset - 1n, at: Date.now() })
            if (seen === undefined || message.offset > seen) this.#seen.set(message.partition, message.offset)
            this.#onRecord(record)
          })
          stream.on('error', () => resolve())
          stream.on('close', () => resolve())
          if (this.#stopped) resolve()
        })
      } catch {
        // broker away or topic not there yet: try again
      } finally {
        this.#restart = undefined
        await this.#stream?.close().catch(() => undefined)
        this.#stream = undefined
        await consumer.close(true).catch(() => undefined)
      }
      if (!this.#stopped) await sleep(1000)
    }
  }
}

/** The group's committed offset per partition of `topic` (a partition without one is left out). */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
  return withAdmin(async (client) => {
    const [group] = await client.listConsumerGroupOffsets({ groups: [groupId] })
    const partitions = group?.topics.find((t) => t.name === topic)?.partitions ?? []
    return new Map(partitions.filter((p) => p.committedOffset >= 0n).map((p) => [p.partitionIndex, p.committedOffset]))
  })
}
