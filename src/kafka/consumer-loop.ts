// Consumes topics as one member of a consumer group and runs each record's work, many at
// once: bounded overall (backpressure pauses the stream), serialised per key (the
// processing_id). Offsets are committed, in batches, only up to the last record of each
// partition below which every record is finished (offset-tracker.ts). Autocommit is off.
import {
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  stringDeserializer,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka'
import type { Tuning } from '../config.ts'
import { describeError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { Interrupted, type InputRecord } from '../record-handler.ts'
import { KeyedSerializer } from './keyed-serializer.ts'
import { OffsetTracker, partitionKey } from './offset-tracker.ts'

type KafkaMessage = Message<string, Buffer, Buffer, Buffer>
type Stream = MessagesStream<string, Buffer, Buffer, Buffer>

export interface PreparedRecord {
  /** Records with the same key run one after another, in arrival order. */
  readonly key: string | undefined
  run(signal: AbortSignal): Promise<void>
}

export interface RecordProcessor {
  /** Called synchronously for every record, in arrival order. */
  prepare(record: InputRecord): PreparedRecord
  /** Last resort for work that failed with something other than Interrupted (a bug). */
  onUnexpected(record: InputRecord, error: unknown, signal: AbortSignal): Promise<void>
}

export interface ConsumerLoopOptions {
  /** For logs and metrics: "input", "retry.5s", … */
  name: string
  brokers: readonly string[]
  clientId: string
  groupId: string
  topics: string[]
  tuning: Tuning
  processor: RecordProcessor
  logger: Logger
}

const RESTART_DELAY_MS = 1000
const LAG_INTERVAL_MS = 10_000
const FETCH_MAX_BYTES = 2 * 1024 * 1024
const FETCH_MAX_BYTES_PER_PARTITION = 256 * 1024
const STREAM_BUFFERED_RECORDS = 512

export class ConsumerLoop {
  readonly #options: ConsumerLoopOptions
  readonly #logger: Logger
  readonly #consumer: Consumer<string, Buffer, Buffer, Buffer>
  readonly #tracker = new OffsetTracker<KafkaMessage>()
  readonly #serializer = new KeyedSerializer<string>()
  readonly #shutdown = new AbortController()
  readonly #tasks = new Set<Promise<void>>()
  #stream: Stream | undefined
  #commitTimer: NodeJS.Timeout | undefined
  #paused = false
  #lag = new Map<string, bigint[]>()

  constructor(options: ConsumerLoopOptions) {
    this.#options = options
    this.#logger = options.logger.child({ loop: options.name })
    this.#consumer = new Consumer({
      clientId: `${options.clientId}-${options.name}`,
      groupId: options.groupId,
      bootstrapBrokers: [...options.brokers],
      deserializers: { key: stringDeserializer },
      autocommit: false,
      // A replica that dies is noticed within 10 s; its partitions (and their waiting retries) move on.
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 30_000,
      retries: 5,
      retryDelay: 500,
    })
    this.#consumer.on('consumer:group:join', () => this.#onAssignment())
    this.#consumer.on('consumer:lag', (lag) => (this.#lag = lag))
  }

  /** Records waiting in Kafka for this loop, per owned partition (refreshed every LAG_INTERVAL_MS). */
  lag(): Array<{ topic: string; partition: number; lag: number }> {
    const list: Array<{ topic: string; partition: number; lag: number }> = []
    for (const [topic, partitions] of this.#lag) {
      partitions.forEach((lag, partition) => {
        if (lag >= 0n) list.push({ topic, partition, lag: Number(lag) })
      })
    }
    return list
  }

  get name(): string {
    return this.#options.name
  }

  /** Records being handled, waiting retries included. */
  get inFlight(): number {
    return this.#tasks.size
  }

  /** True while this loop is an active member of its consumer group. */
  get isJoined(): boolean {
    return this.#consumer.isActive()
  }

  async start(): Promise<void> {
    await this.#openStream()
    this.#commitTimer = setInterval(() => void this.#commitFinished(), this.#options.tuning.commitIntervalMs)
    this.#consumer.startLagMonitoring({ topics: this.#options.topics }, LAG_INTERVAL_MS)
  }

  /**
   * Stops taking records. Waits are cut short and attempts under way finish and are
   * settled (bounded by the grace period); unfinished records are left uncommitted for
   * whoever takes the partition next. Then commits and leaves the group.
   */
  async stop(): Promise<void> {
    if (this.#shutdown.signal.aborted) return
    this.#stream?.pause()
    this.#shutdown.abort()
    const grace = AbortSignal.timeout(this.#options.tuning.shutdownGraceMs)
    await Promise.race([Promise.allSettled([...this.#tasks]), new Promise((resolve) => grace.addEventListener('abort', resolve, { once: true }))])
    if (this.#tasks.size > 0) this.#logger.warn({ inFlight: this.#tasks.size }, 'grace period over: leaving unfinished records uncommitted')
    clearInterval(this.#commitTimer)
    this.#consumer.stopLagMonitoring()
    await this.#commitFinished()
    await this.#stream?.close().catch((error: unknown) => this.#logger.warn({ error: describeError(error) }, 'closing the stream failed'))
    await this.#consumer.close(true).catch((error: unknown) => this.#logger.warn({ error: describeError(error) }, 'leaving the group failed'))
  }

  async #openStream(): Promise<void> {
    const stream = await this.#consumer.consume({
      topics: this.#options.topics,
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      maxWaitTime: 500,
      // The client's defaults (50 MB per fetch and partition) would pull a whole backlog into
      // memory at once; these keep a replica's footprint bounded whatever waits in Kafka.
      maxBytes: FETCH_MAX_BYTES,
      maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
      highWaterMark: STREAM_BUFFERED_RECORDS,
    })
    this.#stream = stream
    this.#tracker.clear()
    stream.on('data', (message: KafkaMessage) => this.#accept(message))
    stream.on('error', (error: Error) => this.#logger.error({ error: describeError(error) }, 'consumer stream failed'))
    stream.on('close', () => void this.#onStreamClosed(stream))
  }

  /** A stream that ends while we are running is replaced; what it had in flight is fetched again. */
  async #onStreamClosed(stream: Stream): Promise<void> {
    if (this.#shutdown.signal.aborted || this.#stream !== stream) return
    this.#logger.warn('consumer stream closed: reopening')
    while (!this.#shutdown.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS))
      try {
        await this.#openStream()
        return
      } catch (error) {
        this.#logger.warn({ error: describeError(error) }, 'reopening the consumer stream failed: will retry')
      }
    }
  }

  #accept(message: KafkaMessage): void {
    const record: InputRecord = {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      timestamp: message.timestamp,
    }
    const token = this.#tracker.track(message.topic, message.partition, message.offset, message)
    const signal = this.#shutdown.signal
    const prepared = this.#options.processor.prepare(record)
    const work = prepared.key === undefined ? prepared.run(signal) : this.#serializer.run(prepared.key, () => prepared.run(signal))

    const task: Promise<void> = work.then(
      () => this.#tracker.complete(token),
      async (error: unknown) => {
        if (error instanceof Interrupted) return
        // A bug, not an outage: park the record in the dead-letter topic rather than stall the partition.
        this.#logger.error({ error: describeError(error), stack: (error as Error).stack, topic: record.topic, offset: String(record.offset) }, 'unexpected error handling a record')
        try {
          await this.#options.processor.onUnexpected(record, error, signal)
          this.#tracker.complete(token)
        } catch (deadLetterError) {
          this.#logger.error({ error: describeError(deadLetterError) }, 'could not dead-letter the record: left uncommitted')
        }
      },
    )
    this.#tasks.add(task)
    void task.finally(() => {
      this.#tasks.delete(task)
      if (this.#paused && this.#tasks.size <= this.#options.tuning.maxInFlight * 0.75 && !signal.aborted) {
        this.#paused = false
        this.#stream?.resume()
      }
    })
    if (!this.#paused && this.#tasks.size >= this.#options.tuning.maxInFlight) {
      this.#paused = true
      this.#stream?.pause()
    }
  }

  #onAssignment(): void {
    const owned = new Set<string>()
    for (const { topic, partitions } of this.#consumer.assignments ?? []) {
      for (const partition of partitions) owned.add(partitionKey(topic, partition))
    }
    this.#tracker.retainOnly(owned)
    this.#logger.info({ partitions: [...owned] }, 'partitions assigned')
  }

  async #commitFinished(): Promise<void> {
    const handles = this.#tracker.takeCommittable()
    if (handles.length === 0) return
    const results = await Promise.allSettled(handles.map(commit))
    for (const result of results) {
      if (result.status === 'rejected') this.#logger.warn({ error: describeError(result.reason) }, 'offset commit failed: records will be re-delivered and de-duplicated')
    }
  }
}

/** Commits up to and including this message (Kafka stores the next offset to read). */
function commit(message: KafkaMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    void message.commit((error) => (error ? reject(error) : resolve()))
  })
}
