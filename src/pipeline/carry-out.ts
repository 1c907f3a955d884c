// Carries out a decision (decide.ts), each step durable before the next, so that nothing
// is lost whatever fails in between:
//   Delivered: done marker (+ status, history), then the outcome record.
//   Retry:     retry record in its tier, then (best effort) the claim released and the status.
//   GiveUp:    dead letter held in Redis, then the done marker, then the dead letter written
//              (and its hold dropped), then the outcome "failed".
// A copy read again (its record was not committed: a crash, a shutdown during a Kafka
// outage, a rebalance) of a notification that is done finishes what its end owes
// (endAgain): a dead letter still held, and the outcome, published from the status. So a
// crash between the done marker and the dead letter loses nothing, and no copy sends what
// was given up. A settlement that finds the notification settled by another copy first (one
// whose claim expired while its process was frozen) stands back: that end is the one told.
// Steps after an attempt are settled even when shutdown has begun (evenIfStopping), as is
// every step after a done marker. The records written carry the notification's trace
// context (its handling's headers).
import type { ActivityResult } from '../dashboard/activity.ts'
import { DeliveryError, ErrorCodes } from '../errors.ts'
import { KIND_TRAITS } from '../notifications/kinds.ts'
import type { DeadLetter } from '../notifications/records.ts'
import type { AttemptRecord, NotificationStatus } from '../store/notification-store.ts'
import { step, type Dispatch, type PipelineContext } from './context.ts'
import type { Decision } from './decide.ts'
import { givenUpLetter, retryRecord } from './letters.ts'
import { outcomeRecord, statusRecord } from './status-records.ts'

/** The attempt a decision follows; absent when the destination refused the notification before one was made. */
export interface MadeAttempt {
  /** The claim that allowed the attempt. */
  readonly token: string
  readonly record: AttemptRecord
}

/** `claimToken`: the claim an end without an attempt was decided under (a refusal); released or settled with it. */
export function carryOut(ctx: PipelineContext, dispatch: Dispatch, decision: Decision, attempt: MadeAttempt | undefined, claimToken?: string): Promise<ActivityResult> {
  switch (decision.kind) {
    case 'delivered':
      return delivered(ctx, dispatch, decision, attempt)
    case 'retry':
      return retry(ctx, dispatch, decision, attempt, claimToken)
    case 'give-up':
      return giveUp(ctx, dispatch, decision, attempt, claimToken)
  }
}

async function delivered(ctx: PipelineContext, dispatch: Dispatch, decision: Extract<Decision, { kind: 'delivered' }>, attempt: MadeAttempt | undefined): Promise<ActivityResult> {
  const { kind, processingId } = dispatch.notification
  const { history } = decision
  const status = statusRecord('delivered', history, attempt?.record ?? NO_ATTEMPT, null, Date.now())
  const settling = attempt !== undefined
  dispatch.waits.stage = 'settle'
  const stands = await step(ctx, dispatch.signal, () => ctx.store.saveSettlement({ kind, processingId, done: true, token: attempt?.token, status, attempt: attempt?.record }), settling)
  ctx.metrics.delivered.count(kind)
  ctx.logger.debug({ processingId, kind, attempts: history.attempts, statusCode: decision.statusCode }, 'notification delivered')
  await (stands ? publishOutcome(ctx, dispatch, status, settling) : endAgain(ctx, dispatch))
  return 'delivered'
}

async function retry(ctx: PipelineContext, dispatch: Dispatch, decision: Extract<Decision, { kind: 'retry' }>, attempt: MadeAttempt | undefined, claimToken: string | undefined): Promise<ActivityResult> {
  const { kind, processingId } = dispatch.notification
  const { tier, dueAt, error, history } = decision
  const now = Date.now()
  dispatch.waits.stage = 'retry-record'
  await step(ctx, dispatch.signal, () => ctx.publisher.scheduleRetry(tier.topic, retryRecord(dispatch, decision, now), dispatch.handling.headers), attempt !== undefined)
  if (attempt) {
    // Best effort: the claim expires by itself, and the status is only for people to read.
    const status = statusRecord('retrying', history, attempt.record, dueAt, now)
    dispatch.waits.stage = 'settle'
    await ctx.store.saveSettlement({ kind, processingId, done: false, token: attempt.token, status, attempt: attempt.record }).catch(() => undefined)
    ctx.metrics.retriesScheduled.inc({ topic: tier.topic })
    ctx.logger.info({ processingId, kind, attempts: history.attempts, delayMs: dueAt - now, tier: tier.topic, error: error.message }, 'delivery failed: retry scheduled')
  } else {
    // Best effort, as above: the claim a refusal was decided under is given back.
    dispatch.waits.stage = 'settle'
    if (claimToken !== undefined) await ctx.store.saveSettlement({ kind, processingId, done: false, token: claimToken, status: statusRecord('retrying', history, NO_ATTEMPT, dueAt, now), attempt: undefined }).catch(() => undefined)
    ctx.logger.debug({ processingId, kind, dueAt, error: error.message }, 'delivery deferred')
  }
  return 'retrying'
}

async function giveUp(ctx: PipelineContext, dispatch: Dispatch, decision: Extract<Decision, { kind: 'give-up' }>, attempt: MadeAttempt | undefined, claimToken: string | undefined): Promise<ActivityResult> {
  const { kind, processingId } = dispatch.notification
  const { error, history } = decision
  const { signal } = dispatch
  const settling = attempt !== undefined
  const now = Date.now()
  const letter = givenUpLetter(dispatch, decision, now)
  dispatch.waits.stage = 'dead-letter'
  await step(ctx, signal, () => ctx.store.holdLetter(kind, processingId, JSON.stringify(letter)), settling)
  const status = statusRecord('failed', history, attempt?.record ?? { status_code: null, error: error.message }, null, now)
  dispatch.waits.stage = 'settle'
  const stands = await step(ctx, signal, () => ctx.store.saveSettlement({ kind, processingId, done: true, token: attempt?.token ?? claimToken, status, attempt: attempt?.record }), settling)
  if (!stands) {
    ctx.logger.info({ processingId, kind, code: error.code }, 'given up, but another copy ended it first: its end stands')
    await endAgain(ctx, dispatch)
    return 'failed'
  }
  // Done now: the dead letter is owed even when stopping (a copy read again would write it too).
  ctx.metrics.failed.inc({ code: error.code })
  await writeLetter(ctx, dispatch, letter)
  ctx.logger.warn({ processingId, kind, attempts: history.attempts, code: error.code, error: error.message }, 'notification given up: dead-lettered')
  await publishOutcome(ctx, dispatch, status, true)
  return 'failed'
}

/** The dead letter of a notification marked done, then its hold dropped (best effort: it expires with the done marker). */
async function writeLetter(ctx: PipelineContext, dispatch: Dispatch, letter: DeadLetter): Promise<void> {
  const { kind, processingId } = dispatch.notification
  dispatch.waits.stage = 'dead-letter'
  await step(ctx, dispatch.signal, () => ctx.publisher.deadLetter(letter, dispatch.handling.headers), true)
  ctx.metrics.deadLettered.inc({ code: letter.code })
  await ctx.store.dropLetter(kind, processingId).catch(() => undefined)
}

const NO_ATTEMPT = { status_code: null, error: null } as const

/**
 * A notification read again after it ended (its record was not committed: a crash, a
 * shutdown during a Kafka outage, a rebalance; or the same result sent twice): what its end
 * owes is done once more, as it was settled: a dead letter still held (a crash came between
 * the done marker and the letter) is written, and the outcome is published again, since the
 * first may never have left. Both are at least once; each copy reads the same.
 */
export async function endAgain(ctx: PipelineContext, dispatch: Dispatch): Promise<void> {
  const { kind, processingId } = dispatch.notification
  const { signal } = dispatch
  dispatch.waits.stage = 'outcome'
  const settled = await step(ctx, signal, () => ctx.store.doneStatus(kind, processingId))
  if (settled === undefined) return
  if (settled.status === 'failed') {
    const held = await step(ctx, signal, () => ctx.store.heldLetter(kind, processingId))
    if (held !== undefined) {
      ctx.logger.warn({ processingId, kind }, 'given up before a crash: its held dead letter written now')
      await writeLetter(ctx, dispatch, JSON.parse(held) as DeadLetter)
    }
  }
  await publishOutcome(ctx, dispatch, settled, false)
}

/**
 * The outcome record, for the kinds that have one (contract §3: results). Not async: it runs
 * for every notification, and an async frame of its own costs ~0.5 KiB each.
 */
function publishOutcome(ctx: PipelineContext, dispatch: Dispatch, status: NotificationStatus, settling: boolean): Promise<void> | undefined {
  const { kind, processingId } = dispatch.notification
  if (!KIND_TRAITS[kind].publishesOutcome) return undefined
  const outcome = outcomeRecord(processingId, status)
  dispatch.waits.stage = 'outcome'
  return outcome === undefined ? undefined : step(ctx, dispatch.signal, () => ctx.publisher.outcome(outcome, dispatch.handling.headers), settling)
}

/**
 * Its destination is paused: the notification (as its retry record, history kept) waits in
 * Redis behind those parked before it, and goes back to the first retry tier when the
 * destination is resumed. No attempt, no deferral counted.
 */
export async function parkWhilePaused(ctx: PipelineContext, dispatch: Dispatch): Promise<void> {
  const { notification, destination } = dispatch
  const now = Date.now()
  const error = new DeliveryError(ErrorCodes.CALLBACK_PAUSED, `callback origin ${destination} is paused`, true)
  const record = JSON.stringify(retryRecord(dispatch, { history: dispatch.history, dueAt: now, error }, now))
  dispatch.waits.stage = 'park'
  await step(ctx, dispatch.signal, () => ctx.origins.park(destination, record))
  ctx.metrics.parked.inc()
  ctx.logger.debug({ processingId: notification.processingId, kind: notification.kind, origin: destination }, 'origin paused: notification parked')
}
