// Writes to our output topics: the dead-letter topic, the outcomes topic (contract §3) and
// the retry tiers. A notification's records carry its W3C trace context (traceparent,
// tracestate) as Kafka headers, where it has one.
// Callers await their message's acknowledgement (acks=all, given with each send) before their offset may be
// committed; messages to one topic sent close together share one produce request: within 2 ms,
// or half as long as a request lately took when the brokers answer slower (produce-pace.ts).
import { ProduceAcks, Producer, stringSerializers, type MessageToProduce } from '@platformatic/kafka'
import { ErrorCodes, InfrastructureError, NotificationError, canRetry } from '../errors.ts'
import { walkErrorChain } from '../lib/error-chain.ts'
import { MicroBatcher } from '../lib/micro-batcher.ts'
import type { TopicNames } from '../names.ts'
import type { DeadLetter, OriginPausedEvent, Outcome, RetryEnvelope } from '../notifications/records.ts'
import type { KafkaConnection } from './connection.ts'
import { createPartitioner } from './partitioner.ts'
import { ProducePace } from './produce-pace.ts'

/** One record as the producer takes it: key, value and headers as text. */
export type Outgoing = MessageToProduce<string, string, string, string>
/** Kafka headers with a notification's trace context; empty when it has none. */
import type { TraceHeaders as TraceContextHeaders } from '../telemetry/tracing.ts'
import { listenToConnectionErrors } from './connection-errors.ts'

/** How long records wait for others to share a produce request: between these, half as long as a request lately took (produce-pace.ts). */
const LINGER = { minMs: 2, maxMs: 50 }
const MAX_BATCH = 500

/** What the publisher asks of a Kafka producer: the client's Producer, or a fake in unit tests. */
export interface RecordProducer {
  send(request: { messages: Outgoing[]; acks: number }): Promise<unknown>
  close(): Promise<void>
}

export interface PublisherOptions {
  readonly connection: KafkaConnection
  readonly clientId: string
  readonly topics: TopicNames
  /** In place of a producer on `connection` (unit tests). */
  readonly producer?: RecordProducer
  /** Told, per produce request, how many of its records on the outcomes topic Kafka acknowledged. */
  readonly onOutcomesPublished?: ((count: number) => void) | undefined
  /** Told how long each produce request took to be answered (or to fail), ms. */
  readonly onRequestAnswered?: ((ms: number) => void) | undefined
}

export class Publisher {
  readonly #producer: RecordProducer
  readonly #topics: TopicNames
  readonly #onOutcomesPublished: ((count: number) => void) | undefined
  readonly #onRequestAnswered: ((ms: number) => void) | undefined
  /**
   * One batcher, and so one produce request at a time, per topic. A request for several topics
   * can crash the process: @platformatic/kafka 2.12 fetches metadata only for its stale topics,
   * and when a failing request clears the cache meanwhile (a broker killed), the answer lacks
   * the others and its producer throws a TypeError from a socket callback (upstream issue
   * platformatic/kafka#109; seen in the soak). With one topic per request, the topic fetched is
   * the topic asked for.
   */
  readonly #batchers = new Map<string, MicroBatcher<Outgoing, void>>()
  /** One for all topics: their requests share the producer's connections to the brokers. */
  readonly #pace = new ProducePace(LINGER)
  readonly #lingerMs = () => this.#pace.lingerMs

  constructor(options: PublisherOptions) {
    this.#topics = options.topics
    this.#onOutcomesPublished = options.onOutcomesPublished
    this.#onRequestAnswered = options.onRequestAnswered
    this.#producer = options.producer ?? listenToConnectionErrors(new Producer({
      clientId: `${options.clientId}-producer`,
      ...options.connection,
      serializers: stringSerializers,
      acks: ProduceAcks.ALL,
      retries: 5,
      retryDelay: 250,
      partitioner: createPartitioner(),
    }))
  }

  deadLetter(letter: DeadLetter, trace?: TraceContextHeaders): Promise<void> {
    return this.#enqueue({
      topic: this.#topics.deadLetter,
      key: letter.processing_id === null ? (letter.source.key ?? undefined) : String(letter.processing_id),
      value: JSON.stringify(letter),
      headers: { ...trace, 'dlq-code': letter.code, 'dlq-source-topic': letter.source.topic },
    })
  }

  /**
   * Parks a notification in a retry tier until its next attempt is due. Key: processing_id.
   * The trace context goes in the headers, so the retry continues the same trace.
   */
  scheduleRetry(topic: string, envelope: RetryEnvelope, trace?: TraceContextHeaders): Promise<void> {
    return this.#enqueue({ topic, key: String(envelope.notification.processing_id), value: JSON.stringify(envelope), ...withHeaders(trace) })
  }

  /** Produces a record as given (replay of a dead-lettered input record to its source topic). */
  republish(topic: string, key: string | null, value: string): Promise<void> {
    return this.#enqueue({ topic, ...(key === null ? {} : { key }), value })
  }

  outcome(outcome: Outcome, trace?: TraceContextHeaders): Promise<void> {
    return this.#enqueue({ topic: this.#topics.outcomes, key: String(outcome.processing_id), value: JSON.stringify(outcome), ...withHeaders(trace) })
  }

  /** An event about a callback origin, on the outcomes topic. Key: the origin. */
  originEvent(event: OriginPausedEvent): Promise<void> {
    return this.#enqueue({ topic: this.#topics.outcomes, key: event.origin, value: JSON.stringify(event), headers: { event: event.event } })
  }

  async close(): Promise<void> {
    for (const batcher of this.#batchers.values()) batcher.flush()
    await this.#producer.close()
  }

  #enqueue(message: Outgoing): Promise<void> {
    let batcher = this.#batchers.get(message.topic)
    if (batcher === undefined) {
      batcher = new MicroBatcher<Outgoing, void>((messages) => this.#send(messages), { maxBatch: MAX_BATCH, lingerMs: this.#lingerMs })
      this.#batchers.set(message.topic, batcher)
    }
    return batcher.add(message)
  }

  async #send(messages: readonly Outgoing[]): Promise<void[]> {
    const sentAt = performance.now()
    try {
      // acks on each send: @platformatic/kafka 2.12 ignores the constructor's `acks` and sends
      // with acks=1 (the leader alone), which a leader killed before replicating loses (the soak)
      await this.#producer.send({ messages: [...messages], acks: ProduceAcks.ALL })
    } catch (error) {
      throw produceError(error)
    } finally {
      const tookMs = performance.now() - sentAt
      this.#pace.answered(tookMs)
      this.#onRequestAnswered?.(tookMs)
    }
    if (this.#onOutcomesPublished !== undefined) {
      let outcomes = 0
      for (const message of messages) if (message.topic === this.#topics.outcomes) outcomes++
      if (outcomes > 0) this.#onOutcomesPublished(outcomes)
    }
    return new Array<void>(messages.length).fill(undefined)
  }
}

function withHeaders(trace: TraceContextHeaders | undefined): { headers?: Record<string, string> } {
  return trace === undefined || Object.keys(trace).length === 0 ? {} : { headers: { ...trace } }
}

/**
 * Kafka down or a leader moving: wait and try again. The broker refusing the record itself
 * (too large, topic or authorisation problems): final, trying again cannot help.
 */
function produceError(error: unknown): NotificationError {
  const detail = describeKafkaError(error)
  return canRetry(error)
    ? new InfrastructureError(ErrorCodes.KAFKA_UNAVAILABLE, `Kafka produce failed: ${detail}`, { cause: error })
    : new NotificationError(ErrorCodes.KAFKA_REJECTED, `Kafka refused the record: ${detail}`, false, { cause: error })
}

/** The library nests the broker's answer (e.g. MESSAGE_TOO_LARGE) inside generic messages. */
function describeKafkaError(error: unknown): string {
  const codes = new Set<string>()
  walkErrorChain(
    error,
    (value) => {
      const { apiCode, apiId } = value as { apiCode?: unknown; apiId?: unknown }
      if (typeof apiId === 'string') codes.add(apiId)
      else if (typeof apiCode === 'number') codes.add(`code ${apiCode}`)
    },
    DESCRIBE_MAX_DEPTH,
  )
  const message = error instanceof Error ? error.message : String(error)
  return codes.size > 0 ? `${message} (${[...codes].join(', ')})` : message
}

const DESCRIBE_MAX_DEPTH = 6
