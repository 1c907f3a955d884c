// Handles one Kafka record to the end: when `handle` resolves, the record's offset may be
// committed (delivered, given up and dead-lettered, skipped as a duplicate or foreign, or
// poison dead-lettered). When Redis or Kafka fail, the step waits and is tried again: the
// record is never dropped. On shutdown it rejects with Interrupted and is left uncommitted.
import type { Config } from './config.ts'
import type { DedupStore } from './dedup/store.ts'
import { deliverWithRetries, sleep, type DeliveryResult } from './delivery/deliver.ts'
import type { CallbackClient } from './delivery/http-client.ts'
import { DEFAULT_JITTER, DEFAULT_SLOW_DOWN_FLOOR_MS, type RetryPolicy } from './delivery/retry-policy.ts'
import { ErrorCodes, NotificationError, PoisonMessageError, describeError } from './errors.ts'
import type { Classified } from './messages/classify.ts'
import type { ProcessingRequest, ProcessingResult } from './messages/schemas.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import { buildAcceptedNotification, buildResultNotification, NotificationKinds, type Notification } from './notifications/payload.ts'
import type { DeadLetter, Publisher } from './kafka/publisher.ts'

export interface InputRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly key: string | undefined
  readonly value: Buffer | undefined
  readonly timestamp: bigint | undefined
}

export class Interrupted extends Error {
  constructor() {
    super('interrupted by shutdown')
    this.name = 'Interrupted'
  }
}

/** Margin added to a claim beyond one attempt's timeout. */
const CLAIM_MARGIN_MS = 15_000
/** Longest wait between looks at a notification another replica is sending. */
const BUSY_POLL_MAX_MS = 1000

export interface RecordHandlerDeps {
  config: Config
  store: DedupStore
  client: CallbackClient
  publisher: Publisher
  metrics: Metrics
  logger: Logger
  retryPolicy?: Partial<RetryPolicy>
}

export class RecordHandler {
  readonly #deps: RecordHandlerDeps
  readonly #policy: RetryPolicy
  readonly #attemptBudgetMs: number

  constructor(deps: RecordHandlerDeps) {
    this.#deps = deps
    this.#policy = {
      scheduleMs: deps.config.retryScheduleMs,
      jitter: DEFAULT_JITTER,
      slowDownFloorMs: DEFAULT_SLOW_DOWN_FLOOR_MS,
      ...deps.retryPolicy,
    }
    this.#attemptBudgetMs = deps.config.callbackTimeoutMs + CLAIM_MARGIN_MS
  }

  async handle(record: InputRecord, classified: Classified, signal: AbortSignal): Promise<void> {
    this.#deps.metrics.consumed.inc({ topic: record.topic, kind: classified.kind })
    switch (classified.kind) {
      case 'foreign':
        return
      case 'poison':
        return this.#deadLetterPoison(record, classified.error, signal)
      case 'request':
        return this.#handleRequest(record, classified.request, signal)
      case 'result':
        return this.#handleResult(record, classified.result, classified.raw, signal)
    }
  }

  /** A record whose handling hit a bug: dead-lettered with the error so its partition moves on. */
  async deadLetterUnexpected(record: InputRecord, error: unknown, signal: AbortSignal): Promise<void> {
    const reason = `internal error: ${describeError(error)}`
    await this.#step(signal, () =>
      this.#deps.publisher.deadLetter({ ...this.#letterBase(record, ErrorCodes.INTERNAL, reason, null), attempts: 0, last_error: reason, last_status_code: null }),
    )
    this.#deps.metrics.deadLettered.inc({ code: ErrorCodes.INTERNAL })
  }

  async #handleRequest(record: InputRecord, request: ProcessingRequest, signal: AbortSignal): Promise<void> {
    const { callback_url, user_id, resume_id, requirements_id } = request
    await this.#step(signal, () => this.#deps.store.recordRequest(request.processing_id, { callback_url, user_id, resume_id, requirements_id }))
    this.#deps.metrics.requestsRecorded.inc()
    if (this.#deps.config.notifyOnAccepted) {
      await this.#send(record, buildAcceptedNotification(request, new Date()), signal)
    }
  }

  async #handleResult(record: InputRecord, result: ProcessingResult, raw: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const processingId = result.response.processing_id
    let callbackUrl = result.response.callback_url ?? undefined
    if (callbackUrl === undefined) {
      const recorded = await this.#step(signal, () => this.#deps.store.recordedRequest(processingId))
      callbackUrl = recorded?.callback_url
    }
    if (callbackUrl === undefined) {
      const reason = `result ${processingId} has no callback_url and no ProcessingRequest was recorded for it`
      return this.#deadLetterPoison(record, new PoisonMessageError(ErrorCodes.MESSAGE_NO_CALLBACK, reason), signal, processingId)
    }
    await this.#send(record, buildResultNotification(result, raw, callbackUrl, new Date()), signal)
  }

  /** Claim, deliver with retries, record the outcome. Returns once the notification is settled. */
  async #send(record: InputRecord, notification: Notification, signal: AbortSignal): Promise<void> {
    const { store, logger, metrics } = this.#deps
    const { kind, processingId } = notification
    for (;;) {
      const claim = await this.#step(signal, () => store.claim(kind, processingId, this.#attemptBudgetMs))
      if (claim.status === 'done') {
        metrics.duplicates.inc()
        logger.debug({ processingId, kind }, 'already sent: skipped')
        return
      }
      if (claim.status === 'busy') {
        if (!(await sleep(Math.min(claim.retryInMs, BUSY_POLL_MAX_MS), signal))) throw new Interrupted()
        continue
      }

      const result = await deliverWithRetries(
        notification,
        {
          send: (n) => this.#deps.client.send(n),
          keepClaim: (ttlMs) => this.#step(signal, () => store.extend(kind, processingId, claim.token, ttlMs)),
          policy: this.#policy,
          attemptBudgetMs: this.#attemptBudgetMs,
          onAttempt: (outcome) => {
            metrics.attempts.inc({ result: outcome.ok ? 'ok' : outcome.error.code })
            metrics.attemptDuration.observe(outcome.durationMs / 1000)
          },
          onRetryScheduled: (delayMs, attempt, error) => {
            metrics.retriesScheduled.inc()
            logger.info({ processingId, kind, attempt, delayMs, error: error.message }, 'delivery failed: retry scheduled')
          },
        },
        signal,
      )

      if (result.status === 'interrupted') {
        if (result.reason === 'claim-lost') continue
        await store.release(kind, processingId, claim.token).catch(() => undefined)
        throw new Interrupted()
      }
      await this.#settle(record, notification, result, claim.token, signal)
      return
    }
  }

  async #settle(
    record: InputRecord,
    notification: Notification,
    result: Exclude<DeliveryResult, { status: 'interrupted' }>,
    token: string,
    signal: AbortSignal,
  ): Promise<void> {
    const { store, publisher, metrics, logger } = this.#deps
    const { kind, processingId } = notification
    const isResult = kind === NotificationKinds.RESULT
    if (result.status === 'delivered') {
      await this.#step(signal, () => store.finish(kind, processingId, token))
      metrics.delivered.inc({ kind })
      logger.debug({ processingId, kind, attempts: result.attempts, statusCode: result.statusCode }, 'notification delivered')
      if (isResult) {
        await this.#step(signal, () =>
          publisher.outcome({ processing_id: processingId, status: 'delivered', attempts: result.attempts, last_status_code: result.statusCode, at: new Date().toISOString() }),
        )
      }
      return
    }

    const { error, attempts } = result
    await this.#step(signal, () =>
      publisher.deadLetter({
        ...this.#letterBase(record, error.code, `delivery given up: ${error.message}`, processingId),
        notification: { kind, webhook_id: notification.webhookId, callback_url: notification.callbackUrl, body: notification.body, is_error: notification.isError },
        attempts,
        last_error: error.message,
        last_status_code: error.statusCode ?? null,
      }),
    )
    await this.#step(signal, () => store.finish(kind, processingId, token))
    metrics.failed.inc({ code: error.code })
    metrics.deadLettered.inc({ code: error.code })
    logger.warn({ processingId, kind, attempts, code: error.code, error: error.message }, 'notification given up: dead-lettered')
    if (isResult) {
      await this.#step(signal, () =>
        publisher.outcome({ processing_id: processingId, status: 'failed', attempts, last_status_code: error.statusCode ?? null, at: new Date().toISOString() }),
      )
    }
  }

  async #deadLetterPoison(record: InputRecord, error: NotificationError, signal: AbortSignal, processingId: number | null = null): Promise<void> {
    await this.#step(signal, () =>
      this.#deps.publisher.deadLetter({ ...this.#letterBase(record, error.code, error.message, processingId), attempts: 0, last_error: null, last_status_code: null }),
    )
    this.#deps.metrics.deadLettered.inc({ code: error.code })
    this.#deps.logger.warn({ topic: record.topic, partition: record.partition, offset: String(record.offset), code: error.code, reason: error.message }, 'poison message dead-lettered')
  }

  #letterBase(record: InputRecord, code: string, reason: string, processingId: number | null): Omit<DeadLetter, 'attempts' | 'last_error' | 'last_status_code'> {
    return {
      reason,
      code,
      source: {
        topic: record.topic,
        partition: record.partition,
        offset: String(record.offset),
        key: record.key ?? null,
        timestamp: record.timestamp === undefined ? null : new Date(Number(record.timestamp)).toISOString(),
      },
      original: record.value?.toString('utf8') ?? '',
      processing_id: processingId,
      failed_at: new Date().toISOString(),
    }
  }

  /** Runs a Redis or Kafka step until it succeeds; waits between tries; gives up only on shutdown. */
  async #step<T>(signal: AbortSignal, operation: () => Promise<T>): Promise<T> {
    for (;;) {
      if (signal.aborted) throw new Interrupted()
      try {
        return await operation()
      } catch (error) {
        if (!(error instanceof NotificationError) || !error.canRetry) throw error
        this.#deps.metrics.infrastructureRetries.inc({ code: error.code })
        this.#deps.logger.warn({ code: error.code, error: describeError(error) }, 'infrastructure unavailable: will retry')
        if (!(await sleep(this.#deps.config.tuning.infrastructureRetryMs, signal))) throw new Interrupted()
      }
    }
  }
}
