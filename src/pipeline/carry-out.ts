// Carries out a settlement decision, each step durable before the next, so that nothing
// is lost whatever fails in between:
//   Delivered: done marker (+ status, history), then the outcome record.
//   Retry:     retry record in its tier, then (best effort) the claim released and the status.
//   GiveUp:    dead letter with the payload, then the done marker, then the outcome "failed".
// The outcome record follows the done marker, so a crash in between leaves a notification
// marked done whose outcome never left: when its record is read again (it was not
// committed), the duplicate publishes the outcome from the status (publishOutcomeAgain).
// Steps after an attempt are settled even when shutdown has begun (evenIfStopping). The
// records written carry the notification's trace context (`trace`) in their Kafka headers.
import type { ActivityResult } from '../dashboard/activity.ts'
import { DeliveryError, ErrorCodes } from '../errors.ts'
import type { TraceContextHeaders } from '../kafka/publisher.ts'
import { KIND_TRAITS } from '../notifications/kinds.ts'
import type { AttemptRecord, NotificationStatus } from '../store/notification-store.ts'
import { step, type Dispatch, type PipelineContext } from './context.ts'
import { givenUpLetter, outcomeRecord, retryEnvelope, statusRecord } from './letters.ts'
import type { Decision } from './settle.ts'

/** The attempt a decision follows; absent when the origin refused the notification before one was made. */
export interface MadeAttempt {
  /** The claim that allowed the attempt. */
  readonly token: string
  readonly record: AttemptRecord
}

export async function carryOut(
  ctx: PipelineContext,
  dispatch: Dispatch,
  decision: Decision,
  attempt: MadeAttempt | undefined,
  trace: TraceContextHeaders,
  signal: AbortSignal,
): Promise<ActivityResult> {
  const { store, publisher, metrics, logger } = ctx
  const { notification, provenance } = dispatch
  const { kind, processingId } = notification
  const { history } = decision
  const settling = attempt !== undefined
  const now = Date.now()
  const last = attempt?.record ?? { status_code: null, error: decision.kind === 'delivered' ? null : decision.error.message }

  switch (decision.kind) {
    case 'delivered': {
      const status = statusRecord('delivered', history, last, null, now)
      await step(ctx, signal, () => store.settle({ kind, processingId, done: true, token: attempt?.token, status, attempt: attempt?.record }), settling)
      metrics.delivered.count(kind)
      logger.debug({ processingId, kind, attempts: history.attempts, statusCode: decision.statusCode }, 'notification delivered')
      await publishOutcome(ctx, dispatch, status, trace, signal, settling)
      return 'delivered'
    }

    case 'retry': {
      const { tier, dueAt, error, reservedSlot } = decision
      await step(ctx, signal, () => publisher.scheduleRetry(tier.topic, retryEnvelope(provenance, notification, history, dueAt, error, now, reservedSlot), trace), settling)
      if (attempt) {
        // Best effort: the claim expires by itself, and the status is only for people to read.
        const status = statusRecord('retrying', history, last, dueAt, now)
        await store.settle({ kind, processingId, done: false, token: attempt.token, status, attempt: attempt.record }).catch(() => undefined)
        metrics.retriesScheduled.inc({ topic: tier.topic })
        logger.info({ processingId, kind, attempts: history.attempts, delayMs: dueAt - now, tier: tier.topic, error: error.message }, 'delivery failed: retry scheduled')
      } else {
        logger.debug({ processingId, kind, dueAt, error: error.message }, 'delivery deferred')
      }
      return 'retrying'
    }

    case 'give-up': {
      const { error, reason } = decision
      await step(ctx, signal, () => publisher.deadLetter(givenUpLetter(provenance, notification, history, error, reason, now), trace), settling)
      const status = statusRecord('failed', history, last, null, now)
      await step(ctx, signal, () => store.settle({ kind, processingId, done: true, token: attempt?.token, status, attempt: attempt?.record }), settling)
      metrics.failed.inc({ code: error.code })
      metrics.deadLettered.inc({ code: error.code })
      logger.warn({ processingId, kind, attempts: history.attempts, code: error.code, error: error.message }, 'notification given up: dead-lettered')
      await publishOutcome(ctx, dispatch, status, trace, signal, settling)
      return 'failed'
    }
  }
}

/**
 * A notification read again after it ended (its record was not committed: a crash, a
 * shutdown during a Kafka outage, a rebalance; or the same result sent twice): its outcome
 * is published once more, as it was settled, since the first may never have left. Outcomes
 * are at least once; each copy reads the same. Only here is the status read back.
 */
export async function publishOutcomeAgain(ctx: PipelineContext, dispatch: Dispatch, trace: TraceContextHeaders, signal: AbortSignal): Promise<void> {
  const { kind, processingId } = dispatch.notification
  if (!KIND_TRAITS[kind].publishesOutcome) return
  const settled = await step(ctx, signal, () => ctx.store.settled(kind, processingId))
  if (settled !== undefined) await publishOutcome(ctx, dispatch, settled, trace, signal, false)
}

/**
 * The outcome record, for the kinds that have one (contract §3: results). Not async: it runs
 * for every notification, and an async frame of its own costs ~0.5 KiB each.
 */
function publishOutcome(ctx: PipelineContext, dispatch: Dispatch, status: NotificationStatus, trace: TraceContextHeaders, signal: AbortSignal, settling: boolean): Promise<void> | undefined {
  const { kind, processingId } = dispatch.notification
  if (!KIND_TRAITS[kind].publishesOutcome) return undefined
  const outcome = outcomeRecord(processingId, status)
  return outcome === undefined ? undefined : step(ctx, signal, () => ctx.publisher.outcome(outcome, trace), settling)
}

/**
 * Its origin is paused: the notification (as its retry record, history kept) waits in Redis
 * behind those parked before it, and goes back to the first retry tier when the origin is
 * resumed. No attempt, no deferral counted.
 */
export async function parkWhilePaused(ctx: PipelineContext, dispatch: Dispatch, callbackOrigin: string, signal: AbortSignal): Promise<void> {
  const { notification, provenance, history } = dispatch
  const now = Date.now()
  const error = new DeliveryError(ErrorCodes.CALLBACK_PAUSED, `callback origin ${callbackOrigin} is paused`, true)
  const record = JSON.stringify(retryEnvelope(provenance, notification, history, now, error, now))
  await step(ctx, signal, () => ctx.origins.park(callbackOrigin, record))
  ctx.metrics.parked.inc()
  ctx.logger.debug({ processingId: notification.processingId, kind: notification.kind, origin: callbackOrigin }, 'origin paused: notification parked')
}
