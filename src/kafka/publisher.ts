// Writes to our output topics: the dead-letter topic, the outcomes topic (contract §3) and
// the retry tiers.
// Callers await their message's acknowledgement (acks=all) before their offset may be
// committed; messages sent within a few milliseconds share one produce request.
import { ProduceAcks, Producer, stringSerializers, type MessageToProduce } from '@platformatic/kafka'
import { findErrorBy } from '@platformatic/kafka'
import { ErrorCodes, InfrastructureError, NotificationError } from '../errors.ts'
import type { RetryEnvelope } from '../messages/retry-envelope.ts'
import type { TopicNames } from '../names.ts'
import { createPartitioner } from './partitioner.ts'

type Outgoing = MessageToProduce<string, string, string, string>

export interface DeadLetter {
  reason: string
  code: string
  /** Where the message came from. */
  source: { topic: string; partition: number; offset: string; key: string | null; timestamp: string | null }
  /** The record's value as received (UTF-8), so it can be inspected and replayed; the first 64 KiB only when `original_truncated`. */
  original: string
  original_truncated: boolean
  processing_id: number | null
  /** For a notification given up after delivery attempts: what was sent, and how it went. */
  notification?: { kind: string; webhook_id: string; callback_url: string; body: string; is_error: boolean }
  attempts: number
  last_error: string | null
  last_status_code: number | null
  failed_at: string
}

export interface Outcome {
  processing_id: number
  status: 'delivered' | 'failed'
  attempts: number
  last_status_code: number | null
  at: string
}

const LINGER_MS = 2
const MAX_BATCH = 500

export class Publisher {
  readonly #producer: Producer<string, string, string, string>
  readonly #topics: TopicNames
  #batch: Array<{ message: Outgoing; resolve: () => void; reject: (error: Error) => void }> = []
  #timer: NodeJS.Timeout | undefined

  constructor(options: { brokers: readonly string[]; clientId: string; topics: TopicNames }) {
    this.#topics = options.topics
    this.#producer = new Producer({
      clientId: `${options.clientId}-producer`,
      bootstrapBrokers: [...options.brokers],
      serializers: stringSerializers,
      acks: ProduceAcks.ALL,
      retries: 5,
      retryDelay: 250,
      partitioner: createPartitioner(),
    })
  }

  async deadLetter(letter: DeadLetter): Promise<void> {
    await this.#enqueue({
      topic: this.#topics.deadLetter,
      key: letter.processing_id === null ? (letter.source.key ?? undefined) : String(letter.processing_id),
      value: JSON.stringify(letter),
      headers: { 'dlq-code': letter.code, 'dlq-source-topic': letter.source.topic },
    })
  }

  /** Parks a notification in a retry tier until its next attempt is due. Key: processing_id. */
  async scheduleRetry(topic: string, envelope: RetryEnvelope): Promise<void> {
    await this.#enqueue({ topic, key: String(envelope.notification.processing_id), value: JSON.stringify(envelope) })
  }

  /** Produces a record as given (replay of a dead-lettered input record to its source topic). */
  async republish(topic: string, key: string | null, value: string): Promise<void> {
    await this.#enqueue({ topic, ...(key === null ? {} : { key }), value })
  }

  async outcome(outcome: Outcome): Promise<void> {
    await this.#enqueue({ topic: this.#topics.outcomes, key: String(outcome.processing_id), value: JSON.stringify(outcome) })
  }

  async close(): Promise<void> {
    this.#flush()
    await this.#producer.close()
  }

  #enqueue(message: Outgoing): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#batch.push({ message, resolve, reject })
      if (this.#batch.length >= MAX_BATCH) this.#flush()
      else this.#timer ??= setTimeout(() => this.#flush(), LINGER_MS)
    })
  }

  #flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#batch
    if (batch.length === 0) return
    this.#batch = []
    this.#producer.send({ messages: batch.map((entry) => entry.message) }).then(
      () => {
        for (const entry of batch) entry.resolve()
      },
      (error: unknown) => {
        const failure = produceError(error)
        for (const entry of batch) entry.reject(failure)
      },
    )
  }
}

/**
 * Kafka down or a leader moving: wait and try again. The broker refusing the record itself
 * (too large, topic or authorisation problems): final, trying again cannot help.
 */
function produceError(error: unknown): NotificationError {
  const cause = error as Error
  const retryable = findErrorBy(cause, 'canRetry', true) !== null || findErrorBy(cause, 'canRetry', false) === null
  const detail = describeKafkaError(error)
  return retryable
    ? new InfrastructureError(ErrorCodes.KAFKA_UNAVAILABLE, `Kafka produce failed: ${detail}`, { cause: error })
    : new NotificationError(ErrorCodes.KAFKA_REJECTED, `Kafka refused the record: ${detail}`, false, { cause: error })
}

/** The library nests the broker's answer (e.g. MESSAGE_TOO_LARGE) inside generic messages. */
function describeKafkaError(error: unknown): string {
  const codes = new Set<string>()
  const visit = (value: unknown, depth: number) => {
    if (depth > 6 || typeof value !== 'object' || value === null) return
    const { apiCode, apiId, errors, cause } = value as { apiCode?: unknown; apiId?: unknown; errors?: unknown; cause?: unknown }
    if (typeof apiId === 'string') codes.add(apiId)
    else if (typeof apiCode === 'number') codes.add(`code ${apiCode}`)
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1)
    if (cause) visit(cause, depth + 1)
  }
  visit(error, 0)
  const message = error instanceof Error ? error.message : String(error)
  return codes.size > 0 ? `${message} (${[...codes].join(', ')})` : message
}
