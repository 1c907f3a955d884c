// Consumes the input topics as one member of the consumer group and hands each record to
// the handler, many at once: bounded overall (backpressure pauses the stream), serialised
// per processing_id. Offsets are committed, in batches, only up to the last record of each
// partition below which every record is finished (offset-tracker.ts). Autocommit is off.
import {
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  stringDeserializer,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka'
import type { Config } from '../config.ts'
import { describeError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { classify, type Classified } from '../messages/classify.ts'
import type { Metrics } from '../metrics.ts'
import { inputTopics, ourKeyFor } from '../names.ts'
import { Interrupted, type InputRecord, type RecordHandler } from '../record-handler.ts'
import { KeyedSerializer } from './keyed-serializer.ts'
import { OffsetTracker, partitionKey } from './offset-tracker.ts'

type KafkaMessage = Message<string, Buffer, Buffer, Buffer>

const RESTART_DELAY_MS = 1000

export class ConsumerLoop {
  readonly #config: Config
  readonly #handler: RecordHandler
  readonly #logger: Logger
  readonly #metrics: Metrics
  readonly #consumer: Consumer<string, Buffer, Buffer, Buffer>
  readonly #tracker = new OffsetTracker<KafkaMessage>()
  readonly #serializer = new KeyedSerializer<string>()
  readonly #shutdown = new AbortController()
  readonly #tasks = new Set<Promise<void>>()
  #stream: MessagesStream<string, Buffer, Buffer, Buffer> | undefined
  #commitTimer: NodeJS.Timeout | undefined
  #paused = false
  #stopping = false

  constructor(deps: { config: Config; handler: RecordHandler; logger: Logger; metrics: Metrics }) {
    this.#config = deps.config
    this.#handler = deps.handler
    this.#logger = deps.logger
    this.#metrics = deps.metrics
    this.#consumer = new Consumer({
      clientId: `${deps.config.kafka.clientId}-consumer`,
      groupId: deps.config.kafka.groupId,
      bootstrapBrokers: [...deps.config.kafka.brokers],
      deserializers: { key: stringDeserializer },
      autocommit: false,
      sessionTimeout: 20_000,
      heartbeatInterval: 2000,
      rebalanceTimeout: 30_000,
      retries: 5,
      retryDelay: 500,
    })
    this.#consumer.on('consumer:group:join', () => this.#onAssignment())
  }

  /** True while this replica is an active member of its consumer group. */
  get isJoined(): boolean {
    return this.#consumer.isActive()
  }

  get inFlight(): number {
    return this.#tasks.size
  }

  async start(): Promise<void> {
    await this.#openStream()
    this.#commitTimer = setInterval(() => void this.#commitFinished(), this.#config.tuning.commitIntervalMs)
  }

  /** Stops taking records, lets in-flight ones finish within the grace period, commits, leaves the group. */
  async stop(): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    this.#stream?.pause()
    const graceEnded = AbortSignal.timeout(this.#config.tuning.shutdownGraceMs)
    while (this.#tasks.size > 0 && !graceEnded.aborted) await Promise.race([...this.#tasks, onAbort(graceEnded)])
    if (this.#tasks.size > 0) {
      this.#logger.warn({ inFlight: this.#tasks.size }, 'grace period over: handing unfinished records back to the group')
    }
    this.#shutdown.abort()
    await Promise.allSettled([...this.#tasks])
    clearInterval(this.#commitTimer)
    await this.#commitFinished()
    await this.#stream?.close().catch((error: unknown) => this.#logger.warn({ error: describeError(error) }, 'closing the stream failed'))
    await this.#consumer.close(true).catch((error: unknown) => this.#logger.warn({ error: describeError(error) }, 'leaving the group failed'))
  }

  async #openStream(): Promise<void> {
    const stream = await this.#consumer.consume({
      topics: inputTopics(this.#config.kafka.topics),
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      maxWaitTime: 500,
    })
    this.#stream = stream
    this.#tracker.clear()
    stream.on('data', (message: KafkaMessage) => this.#accept(message))
    stream.on('error', (error: Error) => this.#logger.error({ error: describeError(error) }, 'consumer stream failed'))
    stream.on('close', () => void this.#onStreamClosed(stream))
  }

  /** A stream that ends while we are running is replaced; what it had in flight is fetched again. */
  async #onStreamClosed(stream: MessagesStream<string, Buffer, Buffer, Buffer>): Promise<void> {
    if (this.#stopping || this.#stream !== stream) return
    this.#logger.warn('consumer stream closed: reopening')
    while (!this.#stopping) {
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
    const classified = classify(record.key, record.value, ourKeyFor(this.#config.kafka.topics, record.topic))
    const run = () => this.#handler.handle(record, classified, this.#shutdown.signal)
    const work = serialKey(classified) === undefined ? run() : this.#serializer.run(serialKey(classified) as string, run)

    const task: Promise<void> = work.then(
      () => this.#tracker.complete(token),
      async (error: unknown) => {
        if (error instanceof Interrupted) return
        // A bug, not an outage: park the record in the dead-letter topic rather than stall the partition.
        this.#logger.error({ error: describeError(error), stack: (error as Error).stack, topic: record.topic, offset: String(record.offset) }, 'unexpected error handling a record')
        try {
          await this.#handler.deadLetterUnexpected(record, error, this.#shutdown.signal)
          this.#tracker.complete(token)
        } catch (deadLetterError) {
          this.#logger.error({ error: describeError(deadLetterError) }, 'could not dead-letter the record: left uncommitted')
        }
      },
    )
    this.#tasks.add(task)
    this.#metrics.inFlight.set(this.#tasks.size)
    void task.finally(() => {
      this.#tasks.delete(task)
      this.#metrics.inFlight.set(this.#tasks.size)
      if (this.#paused && this.#tasks.size <= this.#config.tuning.maxInFlight * 0.75 && !this.#stopping) {
        this.#paused = false
        this.#stream?.resume()
      }
    })
    if (!this.#paused && this.#tasks.size >= this.#config.tuning.maxInFlight) {
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

/** Records of one processing_id are handled in order; others need no order. */
function serialKey(classified: Classified): string | undefined {
  if (classified.kind === 'result') return String(classified.result.response.processing_id)
  if (classified.kind === 'request') return String(classified.request.processing_id)
  return undefined
}

/** Commits up to and including this message (Kafka stores the next offset to read). */
function commit(message: KafkaMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    void message.commit((error) => (error ? reject(error) : resolve()))
  })
}

function onAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
