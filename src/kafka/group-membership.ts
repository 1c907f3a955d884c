// This replica's membership of its consumer group, for one consumer loop: joins the group
// and opens the stream of records (autocommit off, from the committed offsets), opens a new
// stream at every later assignment (see #renewStream), and replaces the member whole after a
// failure (its stream closed, or out of its group for longer than a rebalance may take): a
// client that lost the broker or the coordinator for long does not always rejoin by itself.
// Whatever was in flight is fetched again and de-duplicated; the loop starts its offset
// tracking over (onJoined).
import { MessagesStreamFallbackModes, MessagesStreamModes, type MessagesStream } from '@platformatic/kafka'
import type { Tuning } from '../config.ts'
import { describeError } from '../errors.ts'
import { withDeadline } from '../lib/deadline.ts'
import { retryUntilDone } from '../retry.ts'
import { sleep } from '../lib/sleep.ts'
import { groupConsumer, lagByPartition, ownedPartitions, type GroupConsumerOptions, type KafkaConsumer, type KafkaMessage } from './group-consumer.ts'

type Stream = MessagesStream<string, Buffer, string, string>

export interface GroupMembershipOptions extends GroupConsumerOptions {
  readonly topics: readonly string[]
  readonly tuning: Tuning
  /** When the broker answers a fetch: at `minBytes` ready or after `maxWaitMs` (default: 1 byte, 500 ms). */
  readonly fetch?: { minBytes: number; maxWaitMs: number } | undefined
  /** Aborted at shutdown: no member is replaced after it. */
  readonly shutdown: AbortSignal
  /** Every record of the current member's stream, in order. */
  onMessage(message: KafkaMessage): void
  /** A new stream is in place (a new member, or a new assignment): records are fetched again from the committed offsets. */
  onJoined(): void
  /** The partitions the group gave this member ("topic:partition", partitionKey). */
  onAssigned(owned: ReadonlySet<string>): void
}

/** What a consumer loop asks of its group membership (GroupMembership, or a fake in unit tests). */
export interface Membership {
  readonly isJoined: boolean
  lag(): Array<{ topic: string; partition: number; lag: number }>
  pause(): void
  resume(): void
  join(watchIntervalMs: number): Promise<void>
  leave(): Promise<void>
}

/** Between a failure and the next try to join again. */
const REJOIN_DELAY_MS = 1000
/** A fetch with nothing to return waits this long at the broker (long polling). */
const IDLE_FETCH_WAIT_MS = 500
const LAG_INTERVAL_MS = 10_000
const JOIN_TIMEOUT_MS = 60_000
const LEAVE_TIMEOUT_MS = 5000
/** Longer than a rebalance may take (rebalanceTimeout 30 s). */
const INACTIVE_LIMIT_MS = 60_000

export class GroupMembership implements Membership {
  readonly #options: GroupMembershipOptions
  #consumer: KafkaConsumer | undefined
  /** The stream whose records are handed on (none between an assignment and its new stream). */
  #stream: Stream | undefined
  /** Held paused by the loop (backpressure): a new stream starts paused too. */
  #paused = false
  /** New streams are opened one after another, in the order of the assignments. */
  #renewing: Promise<void> = Promise.resolve()
  #lag = new Map<string, bigint[]>()
  #inactiveSince: number | undefined
  #rejoining = false
  #watchdogTimer: NodeJS.Timeout | undefined

  constructor(options: GroupMembershipOptions) {
    this.#options = options
  }

  /** True while the member is active in its group (not rebalancing, not lost). */
  get isJoined(): boolean {
    return this.#consumer?.isActive() ?? false
  }

  /** Records waiting in Kafka, per owned partition (refreshed every LAG_INTERVAL_MS). */
  lag(): Array<{ topic: string; partition: number; lag: number }> {
    return lagByPartition(this.#lag)
  }

  /** Stops or restarts the flow of records of the current stream (backpressure). */
  pause(): void {
    this.#paused = true
    this.#stream?.pause()
  }

  resume(): void {
    this.#paused = false
    this.#stream?.resume()
  }

  /** Joins the group; from then on a member lost from it is replaced, checked every `watchIntervalMs`. */
  async join(watchIntervalMs: number): Promise<void> {
    await this.#openMember()
    this.#watchdogTimer = setInterval(() => this.#replaceIfLost(), watchIntervalMs)
  }

  /** Closes the stream and leaves the group, bounded in time (not waiting on a stream being opened: closing the client closes it). */
  async leave(): Promise<void> {
    clearInterval(this.#watchdogTimer)
    await this.#stream?.close().catch((error: unknown) => this.#options.logger.warn({ error: describeError(error) }, 'closing the stream failed'))
    await this.#closeConsumer(this.#consumer)
  }

  /** A new group member and its stream; a member that fails to join is closed again. */
  async #openMember(): Promise<void> {
    const consumer = this.#newConsumer()
    let stream: Stream
    try {
      stream = await withDeadline(this.#consume(consumer), JOIN_TIMEOUT_MS, 'joining the group')
    } catch (error) {
      await this.#closeConsumer(consumer)
      throw error
    }
    this.#consumer = consumer
    this.#inactiveSince = undefined
    consumer.startLagMonitoring({ topics: [...this.#options.topics] }, LAG_INTERVAL_MS)
    this.#handOn(consumer, stream)
  }

  #newConsumer(): KafkaConsumer {
    const consumer = groupConsumer(this.#options)
    consumer.on('consumer:group:join', () => this.#assigned(consumer))
    consumer.on('consumer:lag', (lag) => (this.#lag = lag))
    return consumer
  }

  /** From now on the loop gets the records of `stream`, which fetches from the committed offsets. */
  #handOn(consumer: KafkaConsumer, stream: Stream): void {
    if (this.#paused) stream.pause() // before the 'data' listener, which would set it flowing
    this.#stream = stream
    this.#options.onJoined()
    stream.on('data', (message: KafkaMessage) => {
      if (stream === this.#stream) this.#options.onMessage(message)
    })
    stream.on('error', (error: Error) => this.#options.logger.error({ error: describeError(error) }, 'consumer stream failed'))
    stream.on('close', () => {
      if (stream === this.#stream) void this.#rejoin(consumer, 'consumer stream closed')
    })
  }

  /** The group gave this member its partitions: the member's first join, or a rebalance (then a new stream). */
  #assigned(consumer: KafkaConsumer): void {
    this.#options.onAssigned(ownedPartitions(consumer.assignments))
    const old = this.#stream
    if (consumer !== this.#consumer || old === undefined) return // the first join: #openMember hands its stream on
    this.#stream = undefined
    old.pause()
    this.#renewing = this.#renewing.then(() => this.#renewStream(consumer, old))
  }

  /**
   * A stream of the new assignment, in place of the old one. The client's own stream only
   * sets its offsets to the committed ones at a rebalance: a fetch already in flight then
   * answers with records fetched for the old assignment, and moves the fetch position past
   * the committed offset again. Handed on, those records started a window above a stretch no
   * one handled, and its commit passed the stretch (the soak, issue 21: 32 retries in one
   * partition never sent). A new stream starts at the committed offsets and the old one's
   * answers are dropped. The new stream is opened before the old is closed: the client would
   * rejoin the group were its topics left without a stream.
   */
  async #renewStream(consumer: KafkaConsumer, old: Stream): Promise<void> {
    const { shutdown, logger } = this.#options
    const outdated = () => shutdown.aborted || consumer !== this.#consumer // shutting down, or the member replaced
    try {
      if (outdated()) return
      const stream = await withDeadline(this.#consume(consumer), JOIN_TIMEOUT_MS, 'opening a stream for the new assignment')
      if (outdated()) {
        await stream.close().catch(() => undefined)
        return
      }
      this.#handOn(consumer, stream)
    } catch (error) {
      logger.warn({ error: describeError(error) }, 'opening a stream for the new assignment failed')
      void this.#rejoin(consumer, 'no stream for the new assignment')
    } finally {
      await old.close().catch(() => undefined)
    }
  }

  #consume(consumer: KafkaConsumer): Promise<Stream> {
    const { topics, fetch, tuning } = this.#options
    return consumer.consume({
      topics: [...topics],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      minBytes: fetch?.minBytes ?? 1,
      maxWaitTime: fetch?.maxWaitMs ?? IDLE_FETCH_WAIT_MS,
      // The client's defaults (50 MB per fetch and partition) would pull a whole backlog into
      // memory at once; these keep a replica's footprint bounded whatever waits in Kafka.
      maxBytes: tuning.fetchMaxBytes,
      maxBytesPerPartition: tuning.fetchMaxBytesPerPartition,
      highWaterMark: tuning.streamHighWaterMark,
    })
  }

  /** Replaces a failed member, until it is back or the service shuts down. */
  async #rejoin(failed: KafkaConsumer, why: string): Promise<void> {
    const { shutdown, logger } = this.#options
    if (shutdown.aborted || this.#consumer !== failed || this.#rejoining) return
    this.#rejoining = true
    logger.warn(`${why}: joining the group again`)
    this.#consumer = undefined
    void this.#stream?.close().catch(() => undefined)
    this.#stream = undefined
    await this.#closeConsumer(failed)
    const rejoined = (await sleep(REJOIN_DELAY_MS, shutdown)) &&
      (await retryUntilDone(() => this.#openMember(), {
        signal: shutdown,
        waitMs: REJOIN_DELAY_MS,
        // Whatever the failure, this member must come back: it keeps trying until shutdown (Interrupted).
        retryIf: () => true,
        onRetry: (error) => logger.warn({ error: describeError(error) }, 'joining the group again failed: will retry'),
      }).then(() => true, () => false))
    if (rejoined) logger.info('joined the group again')
    this.#rejoining = false
  }

  /** The watchdog: a member that stays out of its group (not rebalancing, just lost) is replaced. */
  #replaceIfLost(): void {
    const consumer = this.#consumer
    if (this.#rejoining || this.#options.shutdown.aborted || !consumer) return
    if (this.isJoined) {
      this.#inactiveSince = undefined
      return
    }
    this.#inactiveSince ??= Date.now()
    if (Date.now() - this.#inactiveSince > INACTIVE_LIMIT_MS) void this.#rejoin(consumer, `not in the group for ${INACTIVE_LIMIT_MS / 1000} s`)
  }

  async #closeConsumer(consumer: KafkaConsumer | undefined): Promise<void> {
    if (!consumer) return
    consumer.stopLagMonitoring()
    try {
      await withDeadline(consumer.close(true), LEAVE_TIMEOUT_MS, 'leaving the group')
    } catch (error) {
      this.#options.logger.warn({ error: describeError(error) }, 'leaving the group failed')
    }
  }
}
