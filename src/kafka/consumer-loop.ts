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
import { Interrupted, describeError } from '../errors.ts'
import { retryUntilDone } from '../lib/retry.ts'
import { sleep } from '../lib/sleep.ts'
import type { Logger } from '../log.ts'
import type { KafkaConnection } from './connection.ts'
import { DEFAULT_IN_FLIGHT_LIMIT, InFlightLimit, OutsideWaits } from './in-flight-limit.ts'
import { KeyedSerializer } from './keyed-serializer.ts'
import { OffsetTracker, partitionKey } from './offset-tracker.ts'

/** One Kafka record as the loop hands it to its processor. */
export interface InputRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly key: string | undefined
  readonly value: Buffer | undefined
  readonly timestamp: bigint | undefined
  /** The record's headers as UTF-8 text (e.g. W3C traceparent/tracestate); empty when it has none. */
  readonly headers: ReadonlyMap<string, string>
}

type KafkaMessage = Message<string, Buffer, string, string>
type Stream = MessagesStream<string, Buffer, string, string>
type KafkaConsumer = Consumer<string, Buffer, string, string>
/**
 * What the tracker keeps per record: the message's own commit (bound to its offset), not
 * the message, whose value is a view into a whole fetch response buffer.
 */
type CommitHandle = KafkaMessage['commit']

export interface PreparedRecord {
  /** Records with the same key run one after another, in arrival order. */
  readonly key: string | undefined
  /** `waits`: where the handling adds the time it waits on others (in-flight-limit.ts). */
  run(signal: AbortSignal, waits: OutsideWaits): Promise<void>
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
  connection: KafkaConnection
  clientId: string
  groupId: string
  /** Static membership: this replica's stable id in the group (KAFKA_GROUP_INSTANCE_ID). */
  groupInstanceId?: string
  topics: string[]
  tuning: Tuning
  /** When the broker answers a fetch: at `minBytes` ready or after `maxWaitMs` (default: 1 byte, 500 ms). */
  fetch?: { minBytes: number; maxWaitMs: number }
  processor: RecordProcessor
  logger: Logger
}

const RESTART_DELAY_MS = 1000
/** A fetch with nothing to return waits this long at the broker (long polling). */
const IDLE_FETCH_WAIT_MS = 500
const LAG_INTERVAL_MS = 10_000
const CONSUME_TIMEOUT_MS = 60_000
const CLOSE_TIMEOUT_MS = 5000
/** Longer than a rebalance may take (rebalanceTimeout 30 s). */
const INACTIVE_LIMIT_MS = 60_000
/** A record waiting on others longer than this (a hung origin, a retry not yet due) leaves its room to others under the adaptive limit. */
const LONG_WAIT_MS = 1000

export class ConsumerLoop {
  readonly #options: ConsumerLoopOptions
  readonly #logger: Logger
  #consumer: KafkaConsumer | undefined
  readonly #tracker = new OffsetTracker<CommitHandle>()
  readonly #serializer = new KeyedSerializer<string>()
  readonly #shutdown = new AbortController()
  /** Records in flight, and what each is waiting on outside. */
  readonly #tasks = new Map<Promise<void>, OutsideWaits>()
  /** Of them, those waiting on others for longer than LONG_WAIT_MS when last counted: not held to #limit. */
  #waitingLong = 0
  #stream: Stream | undefined
  #commitTimer: NodeJS.Timeout | undefined
  #paused = false
  /** Records handled at once: adapts between a floor and `Tuning.maxInFlight` (in-flight-limit.ts). */
  readonly #limit: InFlightLimit
  /** Bytes of the values of the records in #tasks. */
  #bytesInFlight = 0
  #lag = new Map<string, bigint[]>()
  #inactiveSince: number | undefined
  #reconnecting = false

  constructor(options: ConsumerLoopOptions) {
    this.#options = options
    this.#logger = options.logger.child({ loop: options.name })
    this.#limit = new InFlightLimit({ ...DEFAULT_IN_FLIGHT_LIMIT, max: options.tuning.maxInFlight }, Date.now())
  }

  /** Records waiting in Kafka for this loop's group, per owned partition (refreshed every LAG_INTERVAL_MS). */
  lag(): Array<{ group: string; topic: string; partition: number; lag: number }> {
    const list: Array<{ group: string; topic: string; partition: number; lag: number }> = []
    const group = this.#options.groupId
    for (const [topic, partitions] of this.#lag) {
      partitions.forEach((lag, partition) => {
        if (lag >= 0n) list.push({ group, topic, partition, lag: Number(lag) })
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

  /** Records it may handle at once now. */
  get inFlightLimit(): number {
    return this.#limit.value
  }

  /** True while this loop is an active member of its consumer group. */
  get isJoined(): boolean {
    return this.#consumer?.isActive() ?? false
  }

  async start(): Promise<void> {
    await this.#connect()
    this.#commitTimer = setInterval(() => {
      void this.#commitFinished()
      this.#watchdog()
      this.#countWaitingLong()
    }, this.#options.tuning.commitIntervalMs)
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
    await Promise.race([Promise.allSettled([...this.#tasks.keys()]), new Promise((resolve) => grace.addEventListener('abort', resolve, { once: true }))])
    if (this.#tasks.size > 0) this.#logger.warn({ inFlight: this.#tasks.size }, 'grace period over: leaving unfinished records uncommitted')
    clearInterval(this.#commitTimer)
    await this.#commitFinished()
    await this.#stream?.close().catch((error: unknown) => this.#logger.warn({ error: describeError(error) }, 'closing the stream failed'))
    await this.#closeConsumer(this.#consumer)
  }

  /**
   * A new group member and its stream. After a failure the old member is thrown away
   * whole: a client that lost the broker for long does not always rejoin by itself.
   */
  async #connect(): Promise<void> {
    const consumer: KafkaConsumer = new Consumer({
      clientId: `${this.#options.clientId}-${this.#options.name}`,
      groupId: this.#options.groupId,
      ...this.#options.connection,
      ...(this.#options.groupInstanceId === undefined ? {} : { groupInstanceId: this.#options.groupInstanceId }),
      deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
      autocommit: false,
      // A replica that dies is noticed within 10 s; its partitions (and their waiting retries) move on.
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 30_000,
      retries: 5,
      retryDelay: 500,
    })
    consumer.on('consumer:group:join', () => this.#onAssignment(consumer))
    consumer.on('consumer:lag', (lag) => (this.#lag = lag))
    let stream: Stream
    try {
      stream = await withTimeout(
        consumer.consume({
          topics: this.#options.topics,
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: MessagesStreamFallbackModes.EARLIEST,
          autocommit: false,
          minBytes: this.#options.fetch?.minBytes ?? 1,
          maxWaitTime: this.#options.fetch?.maxWaitMs ?? IDLE_FETCH_WAIT_MS,
          // The client's defaults (50 MB per fetch and partition) would pull a whole backlog into
          // memory at once; these keep a replica's footprint bounded whatever waits in Kafka.
          maxBytes: this.#options.tuning.fetchMaxBytes,
          maxBytesPerPartition: this.#options.tuning.fetchMaxBytesPerPartition,
          highWaterMark: this.#options.tuning.streamHighWaterMark,
        }),
        CONSUME_TIMEOUT_MS,
        'joining the group',
      )
    } catch (error) {
      await this.#closeConsumer(consumer)
      throw error
    }
    this.#consumer = consumer
    this.#stream = stream
    this.#inactiveSince = undefined
    this.#tracker.clear()
    consumer.startLagMonitoring({ topics: this.#options.topics }, LAG_INTERVAL_MS)
    stream.on('data', (message: KafkaMessage) => this.#accept(message))
    stream.on('error', (error: Error) => this.#logger.error({ error: describeError(error) }, 'consumer stream failed'))
    stream.on('close', () => void this.#reconnect(stream, 'consumer stream closed'))
  }

  /** Replaces a failed member; what it had in flight is fetched again and de-duplicated. */
  async #reconnect(failed: Stream, why: string): Promise<void> {
    if (this.#shutdown.signal.aborted || this.#stream !== failed || this.#reconnecting) return
    this.#reconnecting = true
    this.#logger.warn(`${why}: joining the group again`)
    const old = this.#consumer
    this.#consumer = undefined
    void failed.close().catch(() => undefined)
    await this.#closeConsumer(old)
    const signal = this.#shutdown.signal
    const rejoined = (await sleep(RESTART_DELAY_MS, signal)) &&
      (await retryUntilDone(() => this.#connect(), {
        signal,
        waitMs: RESTART_DELAY_MS,
        // Whatever the failure, this member must come back: it keeps trying until shutdown (Interrupted).
        retryIf: () => true,
        onRetry: (error) => this.#logger.warn({ error: describeError(error) }, 'joining the group again failed: will retry'),
      }).then(() => true, () => false))
    if (rejoined) this.#logger.info('joined the group again')
    this.#reconnecting = false
  }

  /** A member that stays out of its group (not rebalancing, just lost) is replaced. */
  #watchdog(): void {
    if (this.#reconnecting || this.#shutdown.signal.aborted || !this.#stream) return
    if (this.isJoined) {
      this.#inactiveSince = undefined
      return
    }
    this.#inactiveSince ??= Date.now()
    if (Date.now() - this.#inactiveSince > INACTIVE_LIMIT_MS) void this.#reconnect(this.#stream, `not in the group for ${INACTIVE_LIMIT_MS / 1000} s`)
  }

  async #closeConsumer(consumer: KafkaConsumer | undefined): Promise<void> {
    if (!consumer) return
    consumer.stopLagMonitoring()
    try {
      await withTimeout(consumer.close(true), CLOSE_TIMEOUT_MS, 'leaving the group')
    } catch (error) {
      this.#logger.warn({ error: describeError(error) }, 'leaving the group failed')
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
      headers: message.headers,
    }
    // The client binds commit to its stream and offset (messages-stream.js: this.#commit.bind(…)).
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const token = this.#tracker.track(message.topic, message.partition, message.offset, message.commit)
    const signal = this.#shutdown.signal
    const waits = new OutsideWaits()
    const acceptedAt = Date.now()
    const work = this.#start(this.#options.processor.prepare(record), signal, waits)

    const size = message.value?.length ?? 0
    this.#bytesInFlight += size
    const finished = () => {
      const now = Date.now()
      this.#limit.finished(now - acceptedAt, waits.outsideMs, this.#paused, now)
      this.#tasks.delete(task)
      this.#bytesInFlight -= size
      this.#resumeIfRoom()
    }
    const task: Promise<void> = work.then(
      () => {
        this.#tracker.complete(token)
        finished()
      },
      async (error: unknown) => {
        try {
          if (error instanceof Interrupted) return
          // A bug, not an outage: park the record in the dead-letter topic rather than stall the partition.
          this.#logger.error({ error: describeError(error), stack: (error as Error).stack, topic: record.topic, offset: String(record.offset) }, 'unexpected error handling a record')
          try {
            await this.#options.processor.onUnexpected(record, error, signal)
            this.#tracker.complete(token)
          } catch (deadLetterError) {
            this.#logger.error({ error: describeError(deadLetterError) }, 'could not dead-letter the record: left uncommitted')
          }
        } finally {
          finished()
        }
      },
    )
    this.#tasks.set(task, waits)
    if (!this.#paused && !this.#hasRoom(1)) {
      this.#paused = true
      this.#stream?.pause()
    }
  }

  /**
   * Runs a prepared record now, or after those of its key. A method of its own, so that the
   * closures #accept leaves for the record's whole time in flight do not keep the prepared
   * record (and the parsed message it holds) alive with them.
   */
  #start(prepared: PreparedRecord, signal: AbortSignal, waits: OutsideWaits): Promise<void> {
    return prepared.key === undefined ? prepared.run(signal, waits) : this.#serializer.run(prepared.key, () => prepared.run(signal, waits))
  }

  /** Counted every commit interval (a few hundred records looked at, a few times a second); frees room held by long waits. */
  #countWaitingLong(): void {
    const now = Date.now()
    let count = 0
    for (const waits of this.#tasks.values()) if (waits.waitingLongerThan(LONG_WAIT_MS, now)) count++
    this.#waitingLong = count
    this.#resumeIfRoom()
  }

  /** Takes records again once a quarter of the room is free (not at every record: pause and resume each cost a fetch). */
  #resumeIfRoom(): void {
    if (this.#paused && this.#hasRoom(0.75) && !this.#shutdown.signal.aborted) {
      this.#paused = false
      this.#stream?.resume()
    }
  }

  /**
   * Whether the records in flight stay under `share` of the limits: the adaptive one (records
   * waiting long on others apart), `maxInFlight` for all, and the bytes.
   */
  #hasRoom(share: number): boolean {
    const { maxInFlight, maxInFlightBytes } = this.#options.tuning
    return this.#tasks.size - this.#waitingLong < this.#limit.value * share && this.#tasks.size < maxInFlight * share && (this.#tasks.size === 0 || this.#bytesInFlight < maxInFlightBytes * share)
  }

  #onAssignment(consumer: KafkaConsumer): void {
    const owned = new Set<string>()
    for (const { topic, partitions } of consumer.assignments ?? []) {
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

/** Commits up to and including the handle's message (Kafka stores the next offset to read). */
function commit(handle: CommitHandle): Promise<void> {
  return new Promise((resolve, reject) => {
    void handle((error) => (error ? reject(error) : resolve()))
  })
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
