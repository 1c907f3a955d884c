// Carries out a settlement decision, each step durable before the next, so that nothing
// is lost whatever fails in between:
//   Delivered: done marker (+ status, history), then the outcome record.
//   Retry:     retry record in its tier, then (best effort) the claim released and the status.
//   GiveUp:    dead letter with the payload, then the done marker, then the outcome "failed".
// Steps after an attempt are settled even when shutdown has begun (evenIfStopping). The
// records written carry the notification's trace context (`trace`) in their Kafka headers.
import type { ActivityResult } from '../dashboard/activity.ts'
import { DeliveryError, ErrorCodes } from '../errors.ts'
import type { TraceContextHeaders } from '../kafka/publisher.ts'
import { KIND_TRAITS } from '../notifications/kinds.ts'
import type { AttemptRecord } from '../store/notification-store.ts'
import { step, type Dispatch, type PipelineContext } from './context.ts'
import { givenUpLetter, retryEnvelope, statusRecord } from './letters.ts'
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
  const publishesOutcome = KIND_TRAITS[kind].publishesOutcome

  switch (decision.kind) {
    case 'delivered': {
      const status = statusRecord('delivered', history, last, null, now)
      await step(ctx, signal, () => store.settle({ kind, processingId, done: true, token: attempt?.token, status, attempt: attempt?.record }), settling)
      metrics.delivered.count(kind)
      logger.debug({ processingId, kind, attempts: history.attempts, statusCode: decision.statusCode }, 'notification delivered')
      if (publishesOutcome) {
        const outcome = { processing_id: processingId, status: 'delivered', attempts: history.attempts, last_status_code: decision.statusCode, at: status.updated_at } as const
        await step(ctx, signal, () => publisher.outcome(outcome, trace), settling)
      }
      return 'delivered'
    }

    case 'retry': {
      const { tier, dueAt, error, reservedSlot } = decision
      await step(ctx, signal, () => publisher.scheduleRetry(tier.topic, retryEnvelope(provenance, notification, history, dueAt, error, now, reservedSlot), trace), settling)
      if (attempt) {
        // Best effort: the claim expires by itself, and the status is only for people to read.
        const status = statusRecord('retrying', history, last, dueAt, now)
        await store.settle({ kind, processingId, done: false, token: attempt.token, status, attempt: attempt.record }).catch(() => undefined)
        metrics.retriesScheduled.inc()
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
      if (publishesOutcome) {
        const outcome = { processing_id: processingId, status: 'failed', attempts: history.attempts, last_status_code: error.statusCode ?? null, at: new Date().toISOString() } as const
        await step(ctx, signal, () => publisher.outcome(outcome, trace), settling)
      }
      return 'failed'
    }
  }
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
