// Consumes topics as one member of a consumer group and runs each record's work, many at
// once: bounded overall (backpressure pauses the stream), serialised per key (the
// processing_id). Offsets are committed, in batches, only up to the last record of each
// partition below which every record is finished (offset-tracker.ts). Autocommit is off.
// Joining the group (a new stream at each assignment): group-membership.ts; room: loop-room.ts.
import type { Tuning } from '../config.ts'
import { Interrupted, describeError } from '../errors.ts'
import { settleWithin } from '../lib/deadline.ts'
import type { Logger } from '../log.ts'
import type { InFlightState } from '../metrics.ts'
import type { KafkaConnection } from './connection.ts'
import type { KafkaMessage } from './group-consumer.ts'
import { GroupMembership, type GroupMembershipOptions, type Membership } from './group-membership.ts'
import { DEFAULT_IN_FLIGHT_LIMIT, InFlightLimit, OutsideWaits } from './in-flight-limit.ts'
import { KeyedSerializer } from './keyed-serializer.ts'
import { RESUME_SHARE, hasRoom, type RoomLimits } from './loop-room.ts'
import { OffsetTracker, type CompletionToken } from './offset-tracker.ts'
import { RecordsInHand } from './records-in-hand.ts'
import { SkippedRecords } from './skipped-records.ts'

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
  /** In place of a real member of the group (unit tests). */
  membership?: (options: GroupMembershipOptions) => Membership
}

/** A record waiting on others longer than this (a hung origin, a retry not yet due) leaves its room to others under the adaptive limit. */
const LONG_WAIT_MS = 1000

export class ConsumerLoop {
  readonly #options: ConsumerLoopOptions
  readonly #logger: Logger
  readonly #membership: Membership
  readonly #tracker = new OffsetTracker<CommitHandle>()
  readonly #serializer = new KeyedSerializer<string>()
  readonly #shutdown = new AbortController()
  /** Records being handled, by partition and offset, with the tokens of copies fetched again meanwhile. */
  readonly #inHand = new RecordsInHand<CompletionToken>()
  /** Records received but not handled since the last report (not owned, or handed on again). */
  readonly #skipped = new SkippedRecords()
  /** Records in flight, and what each is waiting on outside. */
  readonly #tasks = new Map<Promise<void>, OutsideWaits>()
  /** What #tasks holds, counted for the room check; `waitingLong`: as of the last recount. */
  readonly #load: { readonly inFlight: number; waitingLong: number; bytesInFlight: number }
  /** Records handled at once: adapts between a floor and `Tuning.maxInFlight` (in-flight-limit.ts). */
  readonly #limit: InFlightLimit
  readonly #roomLimits: RoomLimits
  /** Commits the finished prefix of each partition, every commit interval. */
  #commitTimer: NodeJS.Timeout | undefined
  /** Recounts the records waiting long on others (and so the room), every commit interval. */
  #recountTimer: NodeJS.Timeout | undefined
  #paused = false

  constructor(options: ConsumerLoopOptions) {
    this.#options = options
    this.#logger = options.logger.child({ loop: options.name })
    const { maxInFlight, maxInFlightBytes } = options.tuning
    this.#limit = new InFlightLimit({ ...DEFAULT_IN_FLIGHT_LIMIT, max: maxInFlight }, Date.now())
    this.#roomLimits = { adaptive: this.#limit, maxInFlight, maxInFlightBytes }
    const tasks = this.#tasks
    this.#load = { get inFlight() { return tasks.size }, waitingLong: 0, bytesInFlight: 0 }
    const membershipOptions: GroupMembershipOptions = {
      ...options,
      logger: this.#logger,
      shutdown: this.#shutdown.signal,
      onMessage: (message) => this.#accept(message),
      onJoined: () => this.#tracker.clear(), // a new stream: fetched again from the committed offsets
      onAssigned: (owned) => {
        this.#tracker.retainOnly(owned)
        this.#logger.info({ partitions: [...owned] }, 'partitions assigned')
      },
    }
    this.#membership = options.membership?.(membershipOptions) ?? new GroupMembership(membershipOptions)
  }

  /** Records waiting in Kafka for this loop's group, per owned partition. */
  lag(): Array<{ group: string; topic: string; partition: number; lag: number }> {
    const group = this.#options.groupId
    return this.#membership.lag().map((entry) => ({ group, ...entry }))
  }

  get name(): string {
    return this.#options.name
  }

  /** Records being handled, waiting retries included. */
  get inFlight(): number {
    return this.#tasks.size
  }

  /** How long the record in flight the longest has been (0 when none is): one that never ends holds its partition's commits back. */
  oldestInFlightMs(now: number): number {
    for (const waits of this.#tasks.values()) return now - waits.startedAt // the first in the map is the oldest
    return 0
  }

  /** What /metrics shows of the records in flight; `paused`: the stream held paused for lack of room. */
  inFlightState(now: number): InFlightState {
    const stages = new Map<string, number>()
    for (const { stage } of this.#tasks.values()) stages.set(stage, (stages.get(stage) ?? 0) + 1)
    return { loop: this.name, count: this.inFlight, limit: this.inFlightLimit, oldestSeconds: this.oldestInFlightMs(now) / 1000, paused: this.#paused, stages, waitingLong: this.#load.waitingLong }
  }

  /** Records it may handle at once now. */
  get inFlightLimit(): number {
    return this.#limit.value
  }

  /** True while this loop is an active member of its consumer group. */
  get isJoined(): boolean {
    return this.#membership.isJoined
  }

  async start(): Promise<void> {
    const { commitIntervalMs } = this.#options.tuning
    await this.#membership.join(commitIntervalMs)
    this.#commitTimer = setInterval(() => void this.#commitFinished(), commitIntervalMs)
    this.#recountTimer = setInterval(() => this.#recountWaitingLong(), commitIntervalMs)
  }

  /**
   * Stops taking records. Waits are cut short and attempts under way finish and are
   * settled (bounded by the grace period); unfinished records are left uncommitted for
   * whoever takes the partition next. Then commits and leaves the group.
   */
  async stop(): Promise<void> {
    if (this.#shutdown.signal.aborted) return
    this.#membership.pause()
    this.#shutdown.abort()
    await settleWithin(Promise.allSettled([...this.#tasks.keys()]), this.#options.tuning.shutdownGraceMs)
    if (this.#tasks.size > 0) this.#logger.warn({ inFlight: this.#tasks.size }, 'grace period over: leaving unfinished records uncommitted')
    clearInterval(this.#commitTimer)
    clearInterval(this.#recountTimer)
    this.#skipped.report(this.#logger)
    await this.#commitFinished()
    await this.#membership.leave()
  }

  #accept(message: KafkaMessage): void {
    const { topic, partition, offset, key, value, timestamp, headers } = message
    const record: InputRecord = { topic, partition, offset, key, value, timestamp, headers }
    // The client binds commit to its stream and offset (messages-stream.js: this.#commit.bind(…)).
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const token = this.#tracker.track(message.topic, message.partition, message.offset, message.commit)
    // Not handled: of a partition revoked while in the stream's buffer (its new owner has it), or
    // handed on again by this stream (skipped-records.ts); or fetched again by a new stream while
    // its first fetch is at work here (done when that copy's work is: #release).
    if (typeof token === 'string') return this.#skipped.count(token, topic, partition)
    if (!this.#inHand.take(record.topic, record.partition, record.offset, token)) return
    const signal = this.#shutdown.signal
    const waits = new OutsideWaits()
    waits.startedAt = Date.now()
    const work = this.#start(this.#options.processor.prepare(record), signal, waits)

    const size = message.value?.length ?? 0
    this.#load.bytesInFlight += size
    const finished = (committable: boolean) => {
      this.#release(record, committable)
      const now = Date.now()
      this.#limit.finished(now - waits.startedAt, waits.outsideMs, this.#paused, now)
      this.#tasks.delete(task)
      this.#load.bytesInFlight -= size
      this.#resumeIfRoom()
    }
    const task: Promise<void> = work.then(
      () => {
        this.#tracker.complete(token)
        finished(true)
      },
      async (error: unknown) => {
        let committable = false
        try {
          if (error instanceof Interrupted) return
          // A bug, not an outage: park the record in the dead-letter topic rather than stall the partition.
          this.#logger.error({ error: describeError(error), stack: (error as Error).stack, topic: record.topic, offset: String(record.offset) }, 'unexpected error handling a record')
          try {
            await this.#options.processor.onUnexpected(record, error, signal)
            this.#tracker.complete(token)
            committable = true
          } catch (deadLetterError) {
            this.#logger.error({ error: describeError(deadLetterError) }, 'could not dead-letter the record: left uncommitted')
          }
        } finally {
          finished(committable)
        }
      },
    )
    this.#tasks.set(task, waits)
    if (!this.#paused && !hasRoom(this.#load, this.#roomLimits, 1)) {
      this.#paused = true
      this.#membership.pause()
    }
  }

  /** A record's work ended: the copies fetched again meanwhile are done too if it ended committable. */
  #release(record: InputRecord, committable: boolean): void {
    const copies = this.#inHand.release(record.topic, record.partition, record.offset)
    if (copies !== undefined && committable) for (const copy of copies) this.#tracker.complete(copy)
  }

  /**
   * Runs a prepared record now, or after those of its key: time queued behind them is a wait
   * on others (twin retry records of one id, one in a long due wait, had filled a loop's room).
   * A method of its own, so the closures #accept keeps do not keep the prepared record alive.
   */
  #start(prepared: PreparedRecord, signal: AbortSignal, waits: OutsideWaits): Promise<void> {
    if (prepared.key === undefined) return prepared.run(signal, waits)
    waits.begin(Date.now())
    return this.#serializer.run(prepared.key, () => (waits.end(Date.now()), prepared.run(signal, waits)))
  }

  /** Counted every commit interval (a few hundred records looked at, a few times a second); frees room held by long waits. */
  #recountWaitingLong(): void {
    const now = Date.now()
    let count = 0
    for (const waits of this.#tasks.values()) if (waits.waitingLongerThan(LONG_WAIT_MS, now)) count++
    this.#load.waitingLong = count
    this.#resumeIfRoom()
    this.#skipped.report(this.#logger)
  }

  /** Takes records again once a quarter of the room is free (not at every record: pause and resume each cost a fetch). */
  #resumeIfRoom(): void {
    if (this.#paused && hasRoom(this.#load, this.#roomLimits, RESUME_SHARE) && !this.#shutdown.signal.aborted) {
      this.#paused = false
      this.#membership.resume()
    }
  }

  async #commitFinished(): Promise<void> {
    const handles = this.#tracker.takeCommittable()
    if (handles.length === 0) return
    const results = await Promise.allSettled(handles.map(commitOffset))
    for (const result of results) {
      if (result.status === 'rejected') this.#logger.warn({ error: describeError(result.reason) }, 'offset commit failed: records will be re-delivered and de-duplicated')
    }
  }
}

/** Commits up to and including the handle's message (Kafka stores the next offset to read). */
export function commitOffset(handle: CommitHandle): Promise<void> {
  return new Promise((resolve, reject) => {
    void handle((error) => (error ? reject(error) : resolve()))
  })
}
