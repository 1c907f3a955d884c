// One notification, from admission to a durable end:
//   origin (shared by the group: paused → parked until resumed; held by Retry-After → deferred;
//           rate-limited → its send slot, waited for here or in a retry tier)
//   admit  (this replica's gate for the origin: circuit and concurrency limit; may wait briefly for a slot)
//   claim  (Redis: already done → skip, its outcome published again; another replica sending → wait and look again)
//   attempt (one HTTP POST)
//   settle (pure decision: settle.ts) → carry out (carry-out.ts)
// Returns once the end is durable; on shutdown before an attempt, rejects with Interrupted.
// The whole handling is one span continuing the record's trace, the attempt a child span
// whose context goes with the POST; what carry-out writes to Kafka carries the context on.
import { ANSWERS } from '../delivery/answers.ts'
import type { Ticket } from '../delivery/origin-gate.ts'
import { inProcessWaitMs } from '../delivery/rate-limits.ts'
import { ErrorCodes, Interrupted, NotificationError, describeError, type DeliveryError } from '../errors.ts'
import type { ClaimResult } from '../store/notification-store.ts'
import type { HandlingResult } from '../telemetry/attributes.ts'
import type { Handling } from '../telemetry/tracing.ts'
import { carryOut, parkWhilePaused, publishOutcomeAgain } from './carry-out.ts'
import { step, waitOutside, type Dispatch, type PipelineContext } from './context.ts'
import { attemptRecord, statusRecord } from './letters.ts'
import { settle, type Decision, type Happening } from './settle.ts'

/** Longest wait between looks at a notification another replica is sending. */
const BUSY_POLL_MAX_MS = 1000
/**
 * A reserved rate-limit slot missed by more than this (a busy event loop, a retry tier read
 * late) is given up for a new one: sends made late on old slots would bunch together and
 * break the limit. Any second then holds at most the limit + 10 %.
 */
const SLOT_GRACE_MS = 100

export async function deliver(ctx: PipelineContext, dispatch: Dispatch, signal: AbortSignal): Promise<void> {
  const { notification, history } = dispatch
  const handling = ctx.tracing.handling(dispatch.record, { kind: notification.kind, processingId: notification.processingId, previousAttempts: history.attempts })
  let end: Decision | 'duplicate' | 'parked'
  try {
    end = await toDurableEnd(ctx, dispatch, handling, signal)
  } catch (error) {
    if (error instanceof Interrupted) handling.end('interrupted', history.attempts)
    else handling.end('error', history.attempts, { code: error instanceof NotificationError ? error.code : ErrorCodes.INTERNAL, message: describeError(error) })
    throw error
  }
  if (end === 'duplicate' || end === 'parked') handling.end(end, history.attempts)
  else handling.end(RESULT_OF[end.kind], end.history.attempts, end.kind === 'delivered' ? undefined : end.error)
}

const RESULT_OF: Record<Decision['kind'], HandlingResult> = { delivered: 'delivered', retry: 'retrying', 'give-up': 'failed' }

/** Up to a durable end: the decision carried out, 'duplicate' when it was already sent, 'parked' while its origin is paused. */
async function toDurableEnd(ctx: PipelineContext, dispatch: Dispatch, handling: Handling, signal: AbortSignal): Promise<Decision | 'duplicate' | 'parked'> {
  const { gate, metrics, logger } = ctx
  const { notification, history } = dispatch
  const { kind, processingId } = notification
  const callbackOrigin = ctx.transport.destinationOf(notification)
  const refuse = (happening: Exclude<Happening, { kind: 'attempted' }>) => defer(ctx, dispatch, happening, handling, signal)
  let slotAt = dispatch.reservedSlotAt
  for (;;) {
    // Origin
    const admission = ctx.origins.admission(callbackOrigin, Date.now())
    if (admission.kind === 'paused') return park(ctx, dispatch, callbackOrigin, signal)
    if (admission.kind === 'held') return refuse({ kind: 'refused', reason: 'held', retryAt: admission.until, callbackOrigin })
    if (missed(slotAt)) slotAt = undefined // take another
    const perSecond = slotAt === undefined ? ctx.origins.rateLimitFor(callbackOrigin) : undefined
    if (perSecond !== undefined) {
      const slot = await takeSlot(ctx, callbackOrigin, perSecond, signal)
      slotAt = slot.at
      if (!slot.near) return refuse({ kind: 'slot-later', slotAt, callbackOrigin })
      continue
    }
    if (slotAt !== undefined && slotAt > Date.now()) {
      if (!(await waitOutside(dispatch.waits, slotAt - Date.now(), signal))) throw new Interrupted()
      continue // paused or held meanwhile?
    }

    // Admit
    const admitted = await gate.admit(callbackOrigin, signal)
    if (!admitted.ok) {
      const { reason, retryAt } = admitted
      if (reason === 'circuit-open' && (await step(ctx, signal, () => ctx.origins.pauseIfOpenTooLong(callbackOrigin, admitted.openSince, admitted.lastError, Date.now())))) {
        return park(ctx, dispatch, callbackOrigin, signal)
      }
      return refuse({ kind: 'refused', reason, retryAt, callbackOrigin })
    }

    // Claim
    const claim = await claimOrAbandon(ctx, dispatch, admitted.ticket, signal)
    if (claim.status === 'done') {
      metrics.duplicates.count()
      logger.debug({ processingId, kind }, 'already sent: skipped, its outcome published again')
      await publishOutcomeAgain(ctx, dispatch, handling.headers, signal)
      return 'duplicate'
    }
    if (claim.status === 'busy') {
      if (!(await waitOutside(dispatch.waits, Math.min(claim.retryInMs, BUSY_POLL_MAX_MS), signal))) throw new Interrupted()
      continue
    }

    // A rate-limit slot missed meanwhile (a slow claim under load): the send must not bunch with later ones.
    const stillLimited = missed(slotAt) ? ctx.origins.rateLimitFor(callbackOrigin) : undefined
    if (stillLimited !== undefined) {
      const slot = await takeSlot(ctx, callbackOrigin, stillLimited, signal)
      slotAt = slot.at
      if (!slot.near) {
        gate.abandon(admitted.ticket)
        return giveBackAndDefer(ctx, dispatch, claim.token, slotAt, callbackOrigin, handling, signal)
      }
      if (slotAt > Date.now() && !(await waitOutside(dispatch.waits, slotAt - Date.now(), signal))) {
        gate.abandon(admitted.ticket)
        throw new Interrupted()
      }
    }

    // Attempt
    const startedAt = Date.now()
    const traced = handling.attempt({ name: ctx.transport.attemptName, number: history.attempts + 1, destination: callbackOrigin })
    dispatch.waits.begin(startedAt)
    const outcome = await ctx.transport.send(notification, traced.headers)
    dispatch.waits.end(Date.now())
    traced.end(outcome)
    const rule = ANSWERS[outcome.answer]
    gate.release(admitted.ticket, rule, outcome.durationMs, outcome.ok ? undefined : outcome.error.message)
    if (!outcome.ok && rule.retryAfter === 'holds-origin') await holdIfAsked(ctx, callbackOrigin, outcome.error)
    metrics.attempts.count(outcome.ok ? 'ok' : outcome.error.code)
    metrics.attemptDuration.observe(outcome.durationMs / 1000)

    // Settle: from here the attempt happened, so it is settled even if shutdown began meanwhile.
    const record = attemptRecord(outcome, startedAt)
    const decision = settle({ kind: 'attempted', outcome, startedAt }, history, ctx.schedule, Date.now())
    const result = await carryOut(ctx, dispatch, decision, { token: claim.token, record }, handling.headers, signal)
    ctx.activity.note({
      at: startedAt,
      processingId,
      kind,
      result,
      attempts: decision.history.attempts,
      statusCode: record.status_code,
      error: record.error,
      durationMs: outcome.durationMs,
      callbackOrigin,
    })
    return decision
  }
}

/** A reserved rate-limit slot more than SLOT_GRACE_MS in the past. */
function missed(slotAt: number | undefined): boolean {
  return slotAt !== undefined && Date.now() - slotAt > SLOT_GRACE_MS
}

/** The origin's next send slot, and whether it is near enough to be waited for here rather than in a retry tier. */
async function takeSlot(ctx: PipelineContext, callbackOrigin: string, perSecond: number, signal: AbortSignal): Promise<{ at: number; near: boolean }> {
  const at = await step(ctx, signal, () => ctx.origins.reserve(callbackOrigin, perSecond))
  return { at, near: at - Date.now() <= inProcessWaitMs(perSecond) }
}

/** Sent to a retry tier without an attempt: the origin refused it for now, or its slot is later. */
async function defer(ctx: PipelineContext, dispatch: Dispatch, happening: Exclude<Happening, { kind: 'attempted' }>, handling: Handling, signal: AbortSignal): Promise<Decision> {
  ctx.metrics.deferred.inc({ reason: happening.kind === 'slot-later' ? 'rate-limited' : happening.reason })
  const decision = settle(happening, dispatch.history, ctx.schedule, Date.now())
  await carryOut(ctx, dispatch, decision, undefined, handling.headers, signal)
  return decision
}

/** Claimed, but its new slot is far: the claim is given back (best effort: it expires anyway) and it waits in a tier. */
async function giveBackAndDefer(ctx: PipelineContext, dispatch: Dispatch, token: string, slotAt: number, callbackOrigin: string, handling: Handling, signal: AbortSignal): Promise<Decision> {
  const decision = await defer(ctx, dispatch, { kind: 'slot-later', slotAt, callbackOrigin }, handling, signal)
  const { kind, processingId } = dispatch.notification
  const status = statusRecord('retrying', dispatch.history, { status_code: null, error: null }, slotAt, Date.now())
  await ctx.store.settle({ kind, processingId, done: false, token, status, attempt: undefined }).catch(() => undefined)
  return decision
}

async function park(ctx: PipelineContext, dispatch: Dispatch, callbackOrigin: string, signal: AbortSignal): Promise<'parked'> {
  await parkWhilePaused(ctx, dispatch, callbackOrigin, signal)
  return 'parked'
}

/** An answer whose rule holds the origin (answers.ts), with Retry-After: the whole origin is left alone that long, by every replica (best effort). */
async function holdIfAsked(ctx: PipelineContext, callbackOrigin: string, error: DeliveryError): Promise<void> {
  if (error.retryAfterSeconds === undefined) return
  try {
    await ctx.origins.hold(callbackOrigin, error.retryAfterSeconds * 1000, Date.now())
  } catch (holdError) {
    ctx.logger.warn({ origin: callbackOrigin, error: describeError(holdError) }, 'could not share a Retry-After hold: this replica keeps it')
  }
}

/** The claim; the gate's ticket is given back unless the notification is now ours to send. */
function claimOrAbandon(ctx: PipelineContext, dispatch: Dispatch, ticket: Ticket, signal: AbortSignal): Promise<ClaimResult> {
  const { kind, processingId } = dispatch.notification
  return step(ctx, signal, () => ctx.store.claim(kind, processingId, ctx.claimMs)).then(
    (claim) => {
      if (claim.status !== 'claimed') ctx.gate.abandon(ticket)
      return claim
    },
    (error: unknown) => {
      ctx.gate.abandon(ticket)
      throw error
    },
  )
}
