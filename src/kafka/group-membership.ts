// This replica's membership of its consumer group, for one consumer loop: joins the group
// and opens the stream of records (autocommit off, from the committed offsets), and replaces
// the member whole after a failure (its stream closed, or out of its group for longer than a
// rebalance may take): a client that lost the broker or the coordinator for long does not
// always rejoin by itself. What the failed member had in flight is fetched again and
// de-duplicated; the loop starts its offset tracking over (onJoined).
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
import { withDeadline } from '../lib/deadline.ts'
import { retryUntilDone } from '../retry.ts'
import { sleep } from '../lib/sleep.ts'
import type { Logger } from '../log.ts'
import type { KafkaConnection } from './connection.ts'
import { partitionKey } from './offset-tracker.ts'
import { listenToConnectionErrors } from './connection-errors.ts'

export type KafkaMessage = Message<string, Buffer, string, string>
type Stream = MessagesStream<string, Buffer, string, string>
type KafkaConsumer = Consumer<string, Buffer, string, string>

export interface GroupMembershipOptions {
  /** For logs and the client id: "input", "retry.5s", … */
  readonly name: string
  readonly connection: KafkaConnection
  readonly clientId: string
  readonly groupId: string
  /** Static membership: this replica's stable id in the group (KAFKA_GROUP_INSTANCE_ID). */
  readonly groupInstanceId?: string | undefined
  readonly topics: readonly string[]
  readonly tuning: Tuning
  /** When the broker answers a fetch: at `minBytes` ready or after `maxWaitMs` (default: 1 byte, 500 ms). */
  readonly fetch?: { minBytes: number; maxWaitMs: number } | undefined
  readonly logger: Logger
  /** Aborted at shutdown: no member is replaced after it. */
  readonly shutdown: AbortSignal
  /** Every record of the current member's stream, in order. */
  onMessage(message: KafkaMessage): void
  /** A new member and stream are in place: records are fetched again from the committed offsets. */
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
  #stream: Stream | undefined
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
    this.#stream?.pause()
  }

  resume(): void {
    this.#stream?.resume()
  }

  /** Joins the group; from then on a member lost from it is replaced, checked every `watchIntervalMs`. */
  async join(watchIntervalMs: number): Promise<void> {
    await this.#openMember()
    this.#watchdogTimer = setInterval(() => this.#replaceIfLost(), watchIntervalMs)
  }

  /** Closes the stream and leaves the group (bounded in time). */
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
    this.#stream = stream
    this.#inactiveSince = undefined
    this.#options.onJoined()
    consumer.startLagMonitoring({ topics: [...this.#options.topics] }, LAG_INTERVAL_MS)
    stream.on('data', (message: KafkaMessage) => this.#options.onMessage(message))
    stream.on('error', (error: Error) => this.#options.logger.error({ error: describeError(error) }, 'consumer stream failed'))
    stream.on('close', () => void this.#rejoin(stream, 'consumer stream closed'))
  }

  #newConsumer(): KafkaConsumer {
    const consumer = groupConsumer(this.#options)
    consumer.on('consumer:group:join', () => this.#options.onAssigned(ownedPartitions(consumer.assignments)))
    consumer.on('consumer:lag', (lag) => (this.#lag = lag))
    return consumer
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
  async #rejoin(failed: Stream, why: string): Promise<void> {
    const { shutdown, logger } = this.#options
    if (shutdown.aborted || this.#stream !== failed || this.#rejoining) return
    this.#rejoining = true
    logger.warn(`${why}: joining the group again`)
    const old = this.#consumer
    this.#consumer = undefined
    void failed.close().catch(() => undefined)
    await this.#closeConsumer(old)
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
    if (this.#rejoining || this.#options.shutdown.aborted || !this.#stream) return
    if (this.isJoined) {
      this.#inactiveSince = undefined
      return
    }
    this.#inactiveSince ??= Date.now()
    if (Date.now() - this.#inactiveSince > INACTIVE_LIMIT_MS) void this.#rejoin(this.#stream, `not in the group for ${INACTIVE_LIMIT_MS / 1000} s`)
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

/**
 * A group member's client, every error of it heard. Besides its connections' (connection-errors.ts):
 * after a heartbeat error the client rejoins the group by itself, and reports a rejoin that
 * failed as an 'error' event on the consumer (2.12.1: consumer.js, the heartbeat's rejoin).
 * Unheard, Node ends the process: the soak saw a replica stopping on SIGTERM exit 1 with
 * "Connection pool is closed". The member is replaced by the watchdog if it stays out.
 */
export function groupConsumer(options: GroupMembershipOptions): KafkaConsumer {
  const { name, clientId, groupId, groupInstanceId, connection, logger } = options
  const consumer: KafkaConsumer = listenToConnectionErrors(new Consumer({
    clientId: `${clientId}-${name}`,
    groupId,
    ...connection,
    ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
    deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
    autocommit: false,
    // A replica that dies is noticed within 10 s; its partitions (and their waiting retries) move on.
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    rebalanceTimeout: 30_000,
    retries: 5,
    retryDelay: 500,
  }), (error, broker) => logger.debug({ broker, error: describeError(error) }, 'Kafka broker connection failed'))
  consumer.on('error', (error: Error) => logger.warn({ loop: name, error: describeError(error) }, 'rejoining the group after a heartbeat error failed'))
  return consumer
}

/** The partitions of an assignment, as partitionKey names them. */
export function ownedPartitions(assignments: ReadonlyArray<{ topic: string; partitions: readonly number[] }> | null | undefined): Set<string> {
  const owned = new Set<string>()
  for (const { topic, partitions } of assignments ?? []) {
    for (const partition of partitions) owned.add(partitionKey(topic, partition))
  }
  return owned
}

/** The client's lag report as a list; a partition it could not measure (negative) is left out. */
export function lagByPartition(lag: ReadonlyMap<string, readonly bigint[]>): Array<{ topic: string; partition: number; lag: number }> {
  const list: Array<{ topic: string; partition: number; lag: number }> = []
  for (const [topic, partitions] of lag) {
    partitions.forEach((waiting, partition) => {
      if (waiting >= 0n) list.push({ topic, partition, lag: Number(waiting) })
    })
  }
  return list
}
