// Handles one Kafka record to the end: when a handler resolves, the record's offset may be
// committed. The end is one of: delivered; failed and moved to a retry topic (durably
// scheduled); given up and dead-lettered; skipped as a duplicate or foreign; poison
// dead-lettered. When Redis or Kafka fail, the step waits and is tried again: the record is
// never dropped. On shutdown it rejects with Interrupted and the record stays uncommitted.
import type { Config } from './config.ts'
import type { ActivityLog, ActivityResult } from './dashboard/activity.ts'
import type { AttemptRecord, DedupStore, NotificationStatus } from './dedup/store.ts'
import type { AttemptOutcome, CallbackClient } from './delivery/http-client.ts'
import { originOf, type OriginGate } from './delivery/origin-gate.ts'
import { DEFAULT_JITTER, DEFAULT_SLOW_DOWN_FLOOR_MS, decideRetry, type RetryPolicy } from './delivery/retry-policy.ts'
import { DeliveryError, ErrorCodes, NotificationError, PoisonMessageError, describeError } from './errors.ts'
import type { DeadLetter, Publisher } from './kafka/publisher.ts'
import type { Logger } from './log.ts'
import type { Classified } from './messages/classify.ts'
import { fromEnvelopeNotification, toEnvelopeNotification, type RecordSource, type RetryEnvelope } from './messages/retry-envelope.ts'
import type { ProcessingRequest, ProcessingResult } from './messages/schemas.ts'
import type { Metrics } from './metrics.ts'
import { tierAfter, type RetryTier } from './names.ts'
import { buildAcceptedNotification, buildResultNotification, NotificationKinds, type Notification } from './notifications/payload.ts'
import { sleep } from './sleep.ts'

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

/** Where a notification came from: named in its dead letter, carried through retries. */
interface Origin {
  readonly source: RecordSource
  /** The record's value as received, cut to MAX_ORIGINAL_BYTES so a dead letter always fits. */
  readonly original: string
  readonly original_truncated: boolean
}

/** How much of a record is copied into its dead letter or retry record. */
const MAX_ORIGINAL_BYTES = 64 * 1024

/** Where a notification stands: attempts made, times refused by its origin's gate, first attempt. */
interface History {
  readonly attempts: number
  readonly deferrals: number
  readonly firstAttemptAt: number | undefined
}

const FIRST_TIME: History = { attempts: 0, deferrals: 0, firstAttemptAt: undefined }

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
  tiers: readonly RetryTier[]
  gate: OriginGate
  /** Settled attempts, for the dashboard. */
  activity: ActivityLog
  retryPolicy?: Partial<RetryPolicy>
}

export class RecordHandler {
  readonly #deps: RecordHandlerDeps
  readonly #policy: RetryPolicy
  readonly #claimMs: number

  constructor(deps: RecordHandlerDeps) {
    this.#deps = deps
    this.#policy = {
      scheduleMs: deps.config.retryScheduleMs,
      jitter: DEFAULT_JITTER,
      slowDownFloorMs: DEFAULT_SLOW_DOWN_FLOOR_MS,
      ...deps.retryPolicy,
    }
    this.#claimMs = deps.config.callbackTimeoutMs + CLAIM_MARGIN_MS
  }

  /** A record from an input topic (sending, AI_handler). */
  async handle(record: InputRecord, classified: Classified, signal: AbortSignal): Promise<void> {
    this.#deps.metrics.consumed.inc({ topic: record.topic, kind: classified.kind })
    switch (classified.kind) {
      case 'foreign':
        return
      case 'poison':
        return this.#deadLetterPoison(sourceOf(record), classified.error, signal)
      case 'request':
        return this.#handleRequest(record, classified.request, signal)
      case 'result':
        return this.#handleResult(record, classified.result, classified.raw, signal)
    }
  }

  /** A record from a retry topic: wait until it is due, then make the next attempt. */
  async handleRetry(record: InputRecord, parsed: { envelope: RetryEnvelope } | { error: string }, signal: AbortSignal): Promise<void> {
    if ('error' in parsed) {
      return this.#deadLetterPoison(sourceOf(record), new PoisonMessageError(ErrorCodes.MESSAGE_SCHEMA, parsed.error), signal)
    }
    const { envelope } = parsed
    if (!(await sleep(envelope.due_at - Date.now(), signal))) throw new Interrupted()
    const origin = { source: envelope.source, original: envelope.original, original_truncated: envelope.original_truncated }
    await this.#send(origin, fromEnvelopeNotification(envelope.notification), { attempts: envelope.attempts, deferrals: envelope.deferrals, firstAttemptAt: envelope.first_attempt_at }, signal)
  }

  /** A record whose handling hit a bug or a final error: dead-lettered with the error so its partition moves on. */
  async deadLetterUnexpected(record: InputRecord, error: unknown, signal: AbortSignal): Promise<void> {
    // A final error with a code of ours (e.g. STORE_REJECTED) is named as such; anything else is a bug.
    const known = error instanceof NotificationError
    const code = known ? error.code : ErrorCodes.INTERNAL
    const reason = known ? describeError(error) : `internal error: ${describeError(error)}`
    await this.#step(signal, () =>
      this.#deps.publisher.deadLetter({ ...letterBase(sourceOf(record), code, reason, null), attempts: 0, last_error: reason, last_status_code: null }),
    )
    this.#deps.metrics.deadLettered.inc({ code })
  }

  async #handleRequest(record: InputRecord, request: ProcessingRequest, signal: AbortSignal): Promise<void> {
    const { callback_url, user_id, resume_id, requirements_id } = request
    await this.#step(signal, () => this.#deps.store.recordRequest(request.processing_id, { callback_url, user_id, resume_id, requirements_id }))
    this.#deps.metrics.requestsRecorded.inc()
    if (this.#deps.config.notifyOnAccepted) {
      await this.#send(sourceOf(record), buildAcceptedNotification(request, new Date()), FIRST_TIME, signal)
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
      return this.#deadLetterPoison(sourceOf(record), new PoisonMessageError(ErrorCodes.MESSAGE_NO_CALLBACK, reason), signal, processingId)
    }
    await this.#send(sourceOf(record), buildResultNotification(result, raw, callbackUrl, new Date()), FIRST_TIME, signal)
  }

  /**
   * Claims the notification, makes one attempt, and settles it: delivered, moved to the
   * retry tier its attempt count calls for, or given up. Returns once that is durable.
   */
  async #send(origin: Origin, notification: Notification, history: History, signal: AbortSignal): Promise<void> {
    const { store, metrics, logger, gate } = this.#deps
    const { kind, processingId } = notification
    for (;;) {
      const callbackOrigin = originOf(notification.callbackUrl)
      const admitted = gate.acquire(callbackOrigin, Date.now())
      if (!admitted.ok) return this.#defer(origin, notification, history, { ...admitted, callbackOrigin }, signal)

      let claim
      try {
        claim = await this.#step(signal, () => store.claim(kind, processingId, this.#claimMs))
      } catch (error) {
        gate.abandon(admitted.ticket)
        throw error
      }
      if (claim.status !== 'claimed') gate.abandon(admitted.ticket)
      if (claim.status === 'done') {
        metrics.duplicates.inc()
        logger.debug({ processingId, kind }, 'already sent: skipped')
        return
      }
      if (claim.status === 'busy') {
        if (!(await sleep(Math.min(claim.retryInMs, BUSY_POLL_MAX_MS), signal))) throw new Interrupted()
        continue
      }

      const startedAt = Date.now()
      const outcome = await this.#deps.client.send(notification)
      gate.release(admitted.ticket, outcome.ok || !signalsUnhealthy(outcome.error), Date.now())
      const attempts = history.attempts + 1
      metrics.attempts.inc({ result: outcome.ok ? 'ok' : outcome.error.code })
      metrics.attemptDuration.observe(outcome.durationMs / 1000)
      // From here the attempt happened: settle it even if shutdown began meanwhile.
      const result = await this.#settle(origin, notification, outcome, attempts, claim.token, { at: startedAt, first: history.firstAttemptAt ?? startedAt, deferrals: history.deferrals }, signal)
      this.#deps.activity.note({
        at: startedAt,
        processingId,
        kind,
        result,
        attempts,
        statusCode: outcome.ok ? outcome.statusCode : (outcome.error.statusCode ?? null),
        error: outcome.ok ? null : outcome.error.message,
        durationMs: outcome.durationMs,
        callbackOrigin,
      })
      return
    }
  }

  /**
   * The origin's circuit is open or it is saturated: the notification waits in a retry tier
   * without an attempt being counted, unless it has waited longer than the whole schedule.
   */
  async #defer(
    origin: Origin,
    notification: Notification,
    history: History,
    refused: { reason: string; retryAt: number; callbackOrigin: string },
    signal: AbortSignal,
  ): Promise<void> {
    const { metrics, logger, publisher } = this.#deps
    const reason = `callback origin ${refused.callbackOrigin} ${refused.reason === 'saturated' ? 'is saturated (slow answers)' : 'has its circuit open (repeated failures)'}`
    metrics.deferred.inc({ reason: refused.reason })
    const now = Date.now()
    // Deferrals walk the schedule on their own: waiting for an origin never costs one of the
    // notification's attempts, and a notification refused for the whole schedule is given up.
    const deferrals = history.deferrals + 1
    const tier = tierAfter(this.#deps.tiers, this.#policy.scheduleMs, deferrals)
    if (!tier) {
      const error = new DeliveryError(ErrorCodes.CALLBACK_UNAVAILABLE, `${reason} for longer than the retry schedule`, false)
      return this.#giveUp(origin, notification, error, history.attempts, `delivery given up: ${error.message}`, () => this.#deps.store.forceFinish(notification.kind, notification.processingId), signal)
    }
    const error = new DeliveryError(ErrorCodes.CALLBACK_UNAVAILABLE, reason, true)
    const dueAt = Math.max(now + tier.delayMs, refused.retryAt)
    const envelope = retryEnvelope(origin, notification, { ...history, deferrals }, dueAt, history.firstAttemptAt ?? now, error)
    await this.#step(signal, () => publisher.scheduleRetry(tier.topic, envelope))
    logger.debug({ processingId: notification.processingId, reason: refused.reason, dueAt }, 'delivery deferred')
  }

  async #settle(
    origin: Origin,
    notification: Notification,
    outcome: AttemptOutcome,
    attempts: number,
    token: string,
    times: { at: number; first: number; deferrals: number },
    signal: AbortSignal,
  ): Promise<ActivityResult> {
    const { store, publisher, metrics, logger } = this.#deps
    const { kind, processingId } = notification
    const isResult = kind === NotificationKinds.RESULT
    const settling = { settling: true }
    const attempt = attemptRecord(outcome, times.at)
    const settledAt = new Date().toISOString()

    if (outcome.ok) {
      const status = statusRecord('delivered', attempts, attempt, null, settledAt)
      await this.#step(signal, () => store.finish(kind, processingId, token, status, attempt), settling)
      metrics.delivered.inc({ kind })
      logger.debug({ processingId, kind, attempts, statusCode: outcome.statusCode }, 'notification delivered')
      if (isResult) {
        await this.#step(signal, () => publisher.outcome({ processing_id: processingId, status: 'delivered', attempts, last_status_code: outcome.statusCode, at: settledAt }), settling)
      }
      return 'delivered'
    }

    const { error } = outcome
    const decision = decideRetry(this.#policy, attempts, error)
    const tier = decision.retry ? tierAfter(this.#deps.tiers, this.#policy.scheduleMs, attempts) : undefined
    if (decision.retry && tier) {
      const dueAt = Date.now() + decision.delayMs
      const envelope = retryEnvelope(origin, notification, { attempts, deferrals: times.deferrals }, dueAt, times.first, error)
      await this.#step(signal, () => publisher.scheduleRetry(tier.topic, envelope), settling)
      // Best effort: the claim expires by itself, and the status is only for people to read.
      await store.reschedule(kind, processingId, token, statusRecord('retrying', attempts, attempt, dueAt, settledAt), attempt).catch(() => undefined)
      metrics.retriesScheduled.inc()
      logger.info({ processingId, kind, attempts, delayMs: decision.delayMs, tier: tier.topic, error: error.message }, 'delivery failed: retry scheduled')
      return 'retrying'
    }

    await this.#giveUp(
      origin,
      notification,
      error,
      attempts,
      `delivery given up after ${attempts} attempt(s): ${error.message}`,
      () => store.finish(kind, processingId, token, statusRecord('failed', attempts, attempt, null, settledAt), attempt),
      signal,
      settling,
    )
    return 'failed'
  }

  /** Dead letter (with the payload), "sent" marker, outcome "failed": in that order, so nothing given up is lost. */
  async #giveUp(
    origin: Origin,
    notification: Notification,
    error: DeliveryError,
    attempts: number,
    reason: string,
    markDone: () => Promise<void>,
    signal: AbortSignal,
    options: { settling?: boolean } = {},
  ): Promise<void> {
    const { publisher, metrics, logger } = this.#deps
    const { kind, processingId } = notification
    const lastStatusCode = error.statusCode ?? null
    await this.#step(
      signal,
      () =>
        publisher.deadLetter({
          ...letterBase(origin, error.code, reason, processingId),
          notification: notificationOf(notification),
          attempts,
          last_error: error.message,
          last_status_code: lastStatusCode,
        }),
      options,
    )
    await this.#step(signal, markDone, options)
    metrics.failed.inc({ code: error.code })
    metrics.deadLettered.inc({ code: error.code })
    logger.warn({ processingId, kind, attempts, code: error.code, error: error.message }, 'notification given up: dead-lettered')
    if (kind === NotificationKinds.RESULT) {
      await this.#step(
        signal,
        () => publisher.outcome({ processing_id: processingId, status: 'failed', attempts, last_status_code: lastStatusCode, at: new Date().toISOString() }),
        options,
      )
    }
  }

  async #deadLetterPoison(origin: Origin, error: NotificationError, signal: AbortSignal, processingId: number | null = null): Promise<void> {
    await this.#step(signal, () =>
      this.#deps.publisher.deadLetter({ ...letterBase(origin, error.code, error.message, processingId), attempts: 0, last_error: null, last_status_code: null }),
    )
    this.#deps.metrics.deadLettered.inc({ code: error.code })
    this.#deps.logger.warn({ source: origin.source, code: error.code, reason: error.message }, 'poison message dead-lettered')
  }

  /**
   * Runs a Redis or Kafka step until it succeeds, waiting between tries. Stops with
   * Interrupted on shutdown; a `settling` step (after an attempt was made) is still tried
   * once after shutdown began, so a delivered notification is marked whenever possible.
   */
  async #step<T>(signal: AbortSignal, operation: () => Promise<T>, options: { settling?: boolean } = {}): Promise<T> {
    for (let tries = 0; ; tries++) {
      if (signal.aborted && !(options.settling && tries === 0)) throw new Interrupted()
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

/**
 * The record's origin, worked out only when asked for: a delivered notification never
 * needs it (only dead letters and retry records do), and copying every record's value
 * into a string cost as much as parsing it.
 */
function sourceOf(record: InputRecord): Origin {
  let source: RecordSource | undefined
  let original: string | undefined
  return {
    get source() {
      return (source ??= {
        topic: record.topic,
        partition: record.partition,
        offset: String(record.offset),
        key: record.key ?? null,
        timestamp: record.timestamp === undefined ? null : new Date(Number(record.timestamp)).toISOString(),
      })
    },
    get original() {
      return (original ??= record.value?.subarray(0, MAX_ORIGINAL_BYTES).toString('utf8') ?? '')
    },
    get original_truncated() {
      return (record.value?.length ?? 0) > MAX_ORIGINAL_BYTES
    },
  }
}

function letterBase(origin: Origin, code: string, reason: string, processingId: number | null): Omit<DeadLetter, 'attempts' | 'last_error' | 'last_status_code'> {
  const { source, original, original_truncated } = origin
  return { reason, code, source, original, original_truncated, processing_id: processingId, failed_at: new Date().toISOString() }
}

function notificationOf(notification: Notification): NonNullable<DeadLetter['notification']> {
  return { kind: notification.kind, webhook_id: notification.webhookId, callback_url: notification.callbackUrl, body: notification.body, is_error: notification.isError }
}

/** Failures that say the endpoint is unwell (as opposed to a client error such as 404). */
function signalsUnhealthy(error: DeliveryError): boolean {
  if (error.code === ErrorCodes.DELIVERY_TIMEOUT || error.code === ErrorCodes.DELIVERY_NETWORK) return true
  return error.statusCode !== undefined && (error.statusCode >= 500 || error.statusCode === 429)
}

function attemptRecord(outcome: AttemptOutcome, at: number): AttemptRecord {
  return {
    at: new Date(at).toISOString(),
    status_code: outcome.ok ? outcome.statusCode : (outcome.error.statusCode ?? null),
    error: outcome.ok ? null : outcome.error.message,
    duration_ms: outcome.durationMs,
  }
}

function statusRecord(status: NotificationStatus['status'], attempts: number, last: AttemptRecord, nextAttemptAt: number | null, updatedAt: string): NotificationStatus {
  return {
    status,
    attempts,
    last_status_code: last.status_code,
    last_error: last.error,
    next_attempt_at: nextAttemptAt === null ? null : new Date(nextAttemptAt).toISOString(),
    updated_at: updatedAt,
  }
}

function retryEnvelope(
  origin: Origin,
  notification: Notification,
  counts: { attempts: number; deferrals: number },
  dueAt: number,
  firstAttemptAt: number,
  error: DeliveryError,
): RetryEnvelope {
  return {
    v: 1,
    notification: toEnvelopeNotification(notification),
    attempts: counts.attempts,
    deferrals: counts.deferrals,
    due_at: dueAt,
    first_attempt_at: firstAttemptAt,
    last_error: error.message,
    last_error_code: error.code,
    last_status_code: error.statusCode ?? null,
    source: origin.source,
    original: origin.original,
    original_truncated: origin.original_truncated,
  }
}
