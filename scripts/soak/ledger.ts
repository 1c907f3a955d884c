// What the service read and wrote, for the soak's checks: the sending topic (which ids Kafka
// holds), the dead-letter and outcome topics (read
// from the beginning, through broker faults) and, at the end, each id's done marker and
// status and attempt history in Redis (Cluster or Sentinel, as the service saw it).
import { Cluster, Redis } from 'ioredis'
import { TopicReader, type ReadRecord } from '../faults/kafka.ts'
import { processingIdOf } from '../faults/receiver.ts'

export interface Letter {
  code: string
  reason: string
  attempts: number
  lastError: string
  failedAt: string
}

/** One attempt as the service recorded it (notification_attempts): status_code null when no answer came (a timeout, a broken connection). */
export interface RecordedAttempt {
  at: string
  status_code: number | null
  error: string | null
}

export interface RedisState {
  done: boolean
  status: string | undefined
  attempts: RecordedAttempt[]
}

export class Ledger {
  readonly letters = new Map<number, Letter[]>()
  readonly outcomes = new Map<number, string[]>()
  /** Every id found in the sending topic: an acknowledged id missing here was lost by Kafka or its producer, not by the service. */
  readonly inKafka = new Set<number>()
  unmatched = 0
  readonly #readers: TopicReader[]

  constructor(topics: { dlq: string; outcomes: string; sending: string }) {
    this.#readers = [
      new TopicReader(topics.dlq, (r) => this.#onLetter(r)),
      new TopicReader(topics.outcomes, (r) => this.#onOutcome(r)),
      new TopicReader(topics.sending, (r) => {
        const id = processingIdOf(r.value)
        if (id !== undefined) this.inKafka.add(id)
      }),
    ]
  }

  start(): void {
    for (const reader of this.#readers) reader.start()
  }

  /** Reads both topics to their current end; false if one could not be. */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const done = await Promise.all(this.#readers.map((reader) => reader.catchUp(timeoutMs)))
    return done.every(Boolean)
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
          const history = attempts.map((text) => parse(text) as RecordedAttempt | undefined).filter((a): a is RecordedAttempt => a !== undefined)
          return [id, { done: marker !== null, status: (parse(status ?? '') as { status?: string } | undefined)?.status, attempts: history }] as const
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
