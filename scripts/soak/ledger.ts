// What the service read and wrote, for the soak's checks: the sending topic (which ids Kafka
// holds), the dead-letter and outcome topics (read
// from the beginning, through broker faults) and, at the end, each id's done marker and
// status and attempt history in Redis (Cluster or Sentinel, as the service saw it).
import { Cluster, Redis } from 'ioredis'
import { TopicReader, type ReadRecord, type SkippedRange } from '../faults/kafka.ts'
import { processingIdOf } from '../faults/receiver.ts'

export interface Letter {
  code: string
  reason: string
  attempts: number
  lastError: string
  failedAt: string
}

/** One attempt as the service recorded it (the history in notification_status; notification_attempts before 2026-12-05): status_code null when no answer came (a timeout, a broken connection). */
export interface RecordedAttempt {
  at: string
  status_code: number | null
  error: string | null
}

export interface RedisState {
  done: boolean
  status: string | undefined
  /** When its next attempt was due, as its status says (epoch ms), if one was. */
  nextAttemptAt?: number
  attempts: RecordedAttempt[]
}

/** One topic as followed through the faults against the same topic read again from the start once they are over. */
export interface TopicAudit {
  topic: string
  /** Records the follower read. */
  followed: number
  /** The final read reached the topic's end (else what it did not read shows as gone). */
  complete: boolean
  /** Records the final read found. */
  final: number
  /** Offsets the follower passed over (found by the final read and counted from there). */
  skippedByFollower: SkippedRange[]
  /** Records the follower read that the final read no longer found, or found different: Kafka dropped acknowledged records. */
  vanished: Array<{ partition: number; offset: string; value: string }>
}

/** The readers' order: dead letters, outcomes, the sending topic. */
const SENDING = 2

export class Ledger {
  readonly letters = new Map<number, Letter[]>()
  readonly outcomes = new Map<number, string[]>()
  /** Every id found in the sending topic: an acknowledged id missing here was lost by Kafka or its producer, not by the service. */
  readonly inKafka = new Set<number>()
  /** The id at each `partition:offset` of the sending topic, as the final read found it. */
  readonly sendingAt = new Map<string, number>()
  unmatched = 0
  readonly #readers: TopicReader[]
  readonly #handlers: Array<(record: ReadRecord) => void>

  constructor(topics: { dlq: string; outcomes: string; sending: string }) {
    this.#handlers = [
      (r) => this.#onLetter(r),
      (r) => this.#onOutcome(r),
      (r) => {
        const id = processingIdOf(r.value)
        if (id !== undefined) this.inKafka.add(id)
      },
    ]
    this.#readers = [topics.dlq, topics.outcomes, topics.sending].map((topic, i) => new TopicReader(topic, (r) => this.#handlers[i]?.(r)))
  }

  /**
   * Reads every topic again from the start with a fresh reader, once the faults are over, and
   * compares: what only the final read found is counted in (the follower skipped it); what the
   * follower read and the final read did not find, Kafka lost after acknowledging it.
   */
  async audit(timeoutMs: number): Promise<TopicAudit[]> {
    const audits: TopicAudit[] = []
    // one topic at a time: three at once with the run's records in memory read too slowly
    for (const [i, followed] of this.#readers.entries()) audits.push(await this.#auditOne(i, followed, timeoutMs))
    return audits
  }

  async #auditOne(i: number, followed: TopicReader, timeoutMs: number): Promise<TopicAudit> {
    const final = new TopicReader(followed.topic, () => undefined)
    final.start()
    const complete = await final.catchUp(timeoutMs)
    await final.stop()
    const skippedByFollower = followed.skipped()
    const followedCount = followed.records.size
    const vanished: TopicAudit['vanished'] = []
    for (const [key, record] of followed.records) {
      if (record.offset > final.readUpTo(record.partition)) continue // not reached in time: not checked
      if (final.records.get(key)?.value !== record.value) vanished.push({ partition: record.partition, offset: String(record.offset), value: record.value.slice(0, 120) })
    }
    for (const [key, record] of final.records) {
      if (followed.records.has(key)) continue
      followed.records.set(key, record)
      this.#handlers[i]?.(record)
    }
    if (i === SENDING) this.#indexSending(final)
    return { topic: followed.topic, complete, followed: followedCount, final: final.records.size, skippedByFollower, vanished }
  }

  start(): void {
    for (const reader of this.#readers) reader.start()
  }

  /** Reads every topic to its current end; false if one could not be. */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const done = await Promise.all(this.#readers.map((reader) => reader.catchUp(timeoutMs)))
    return done.every(Boolean)
  }

  #indexSending(final: TopicReader): void {
    for (const record of final.records.values()) {
      const id = processingIdOf(record.value)
      if (id !== undefined) this.sendingAt.set(`${record.partition}:${record.offset}`, id)
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#readers.map((reader) => reader.stop()))
  }

  #onLetter(record: ReadRecord): void {
    const letter = parse(record.value) as { code?: string; reason?: string; processing_id?: number; attempts?: number; last_error?: string; failed_at?: string } | undefined
    const id = letter?.processing_id
    if (typeof id !== 'number') return void this.unmatched++
    const entry = { code: String(letter?.code ?? '?'), reason: String(letter?.reason ?? ''), attempts: Number(letter?.attempts ?? 0), lastError: String(letter?.last_error ?? ''), failedAt: String(letter?.failed_at ?? '') }
    this.letters.set(id, [...(this.letters.get(id) ?? []), entry])
  }

  #onOutcome(record: ReadRecord): void {
    const outcome = parse(record.value) as { processing_id?: number; status?: string } | undefined
    const id = outcome?.processing_id
    if (typeof id !== 'number') return void this.unmatched++
    this.outcomes.set(id, [...(this.outcomes.get(id) ?? []), String(outcome?.status)])
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The done marker and status (names as src/names.ts builds them for a result) of each id. */
export async function readRedis(env: Record<string, string>, ids: number[]): Promise<Map<number, RedisState>> {
  const client = redisClient(env)
  const states = new Map<number, RedisState>()
  try {
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000)
      const answers = await Promise.all(
        chunk.map(async (id) => {
          const done = `processed_messages:${id}`
          const [marker, status, attempts] = await Promise.all([client.get(done), client.get(`notification_status:{${done}}`), client.lrange(`notification_attempts:{${done}}`, 0, -1)])
          // The history inside the status; a list of its own before 2026-12-05 (read first).
          const saved = parse(status ?? '') as { status?: string; next_attempt_at?: string | null; history?: unknown[] } | undefined
          const entries = [...attempts.map(parse), ...(Array.isArray(saved?.history) ? saved.history : [])]
          const history = entries.filter((a): a is RecordedAttempt => typeof a === 'object' && a !== null)
          const nextAttemptAt = saved?.next_attempt_at ? Date.parse(saved.next_attempt_at) : undefined
          return [id, { done: marker !== null, status: saved?.status, attempts: history, ...(nextAttemptAt === undefined ? {} : { nextAttemptAt }) }] as const
        }),
      )
      for (const [id, state] of answers) states.set(id, state)
    }
  } finally {
    client.disconnect()
  }
  return states
}

function redisClient(env: Record<string, string>): Redis | Cluster {
  const hostPort = (text: string) => {
    const [host, port] = text.split(':')
    return { host: host ?? '127.0.0.1', port: Number(port) }
  }
  if (env.REDIS_CLUSTER_NODES) return new Cluster(env.REDIS_CLUSTER_NODES.split(',').map(hostPort), { enableAutoPipelining: true })
  return new Redis({ sentinels: (env.REDIS_SENTINELS ?? '').split(',').map(hostPort), name: env.REDIS_SENTINEL_MASTER ?? '', enableAutoPipelining: true })
}
