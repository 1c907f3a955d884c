// One notification, from admission to a durable end:
//   origin (shared by the group: paused → parked until resumed; held by Retry-After → deferred;
//           rate-limited → its send slot, waited for here or in a retry tier)
//   admit  (this replica's gate for the origin: circuit and saturation)
//   claim  (Redis: already done → skip; another replica sending → wait and look again)
//   attempt (one HTTP POST)
//   settle (pure decision: settle.ts) → carry out (carry-out.ts)
// Returns once the end is durable; on shutdown before an attempt, rejects with Interrupted.
import { endpointSignal } from '../delivery/endpoint-health.ts'
import { originOf, type Ticket } from '../delivery/origin-gate.ts'
import { inProcessWaitMs } from '../delivery/rate-limits.ts'
import { Interrupted, type DeliveryError } from '../errors.ts'
import { sleep } from '../lib/sleep.ts'
import type { ClaimResult } from '../store/notification-store.ts'
import { carryOut, parkWhilePaused } from './carry-out.ts'
import { step, type Dispatch, type PipelineContext } from './context.ts'
import { attemptRecord } from './letters.ts'
import { settle, type Happening } from './settle.ts'

/** Longest wait between looks at a notification another replica is sending. */
const BUSY_POLL_MAX_MS = 1000
/**
 * A reserved rate-limit slot missed by more than this (a busy event loop, a retry tier read
 * late) is given up for a new one: sends made late on old slots would bunch together and
 * break the limit. Any second then holds at most the limit + 10 %.
 */
const SLOT_GRACE_MS = 100

export async function deliver(ctx: PipelineContext, dispatch: Dispatch, signal: AbortSignal): Promise<void> {
  const { gate, metrics, logger } = ctx
  const { notification, history } = dispatch
  const { kind, processingId } = notification
  const callbackOrigin = originOf(notification.callbackUrl)
  let slotAt = dispatch.reservedSlotAt
  for (;;) {
    // Origin
    const admission = ctx.origins.admission(callbackOrigin, Date.now())
    if (admission.kind === 'paused') return parkWhilePaused(ctx, dispatch, callbackOrigin, signal)
    if (admission.kind === 'held') return defer(ctx, dispatch, { kind: 'refused', reason: 'held', retryAt: admission.until, callbackOrigin }, signal)
    if (slotAt !== undefined && Date.now() - slotAt > SLOT_GRACE_MS) slotAt = undefined // missed: take another
    const perSecond = slotAt === undefined ? ctx.origins.rateLimitFor(callbackOrigin) : undefined
    if (perSecond !== undefined) {
      slotAt = await step(ctx, signal, () => ctx.origins.reserve(callbackOrigin, perSecond))
      if (slotAt - Date.now() > inProcessWaitMs(perSecond)) return defer(ctx, dispatch, { kind: 'slot-later', slotAt, callbackOrigin }, signal)
      continue
    }
    if (slotAt !== undefined && slotAt > Date.now()) {
      if (!(await sleep(slotAt - Date.now(), signal))) throw new Interrupted()
      continue // paused or held meanwhile?
    }

    // Admit
    const now = Date.now()
    const admitted = gate.acquire(callbackOrigin, now)
    if (!admitted.ok) {
      const { reason, retryAt } = admitted
      if (reason === 'circuit-open' && (await step(ctx, signal, () => ctx.origins.pauseIfOpenTooLong(callbackOrigin, admitted.openSince, admitted.lastError, now)))) {
        return parkWhilePaused(ctx, dispatch, callbackOrigin, signal)
      }
      return defer(ctx, dispatch, { kind: 'refused', reason, retryAt, callbackOrigin }, signal)
    }

    // Claim
    const claim = await claimOrAbandon(ctx, dispatch, admitted.ticket, signal)
    if (claim.status === 'done') {
      metrics.duplicates.inc()
      logger.debug({ processingId, kind }, 'already sent: skipped')
      return
    }
    if (claim.status === 'busy') {
      if (!(await sleep(Math.min(claim.retryInMs, BUSY_POLL_MAX_MS), signal))) throw new Interrupted()
      continue
    }

    // Attempt
    const startedAt = Date.now()
    const outcome = await ctx.transport.send(notification)
    gate.release(admitted.ticket, outcome.ok || endpointSignal(outcome.error) === 'fine', Date.now(), outcome.ok ? undefined : outcome.error.message)
    if (!outcome.ok) await holdIfAsked(ctx, callbackOrigin, outcome.error)
    metrics.attempts.inc({ result: outcome.ok ? 'ok' : outcome.error.code })
    metrics.attemptDuration.observe(outcome.durationMs / 1000)

    // Settle: from here the attempt happened, so it is settled even if shutdown began meanwhile.
    const record = attemptRecord(outcome, startedAt)
    const decision = settle({ kind: 'attempted', outcome, startedAt }, history, ctx.schedule, Date.now())
    const result = await carryOut(ctx, dispatch, decision, { token: claim.token, record }, signal)
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
    return
  }
}

/** Sent to a retry tier without an attempt: the origin refused it for now, or its slot is later. */
async function defer(ctx: PipelineContext, dispatch: Dispatch, happening: Exclude<Happening, { kind: 'attempted' }>, signal: AbortSignal): Promise<void> {
  ctx.metrics.deferred.inc({ reason: happening.kind === 'slot-later' ? 'rate-limited' : happening.reason })
  const decision = settle(happening, dispatch.history, ctx.schedule, Date.now())
  await carryOut(ctx, dispatch, decision, undefined, signal)
}

/** 429 or 503 with Retry-After: the whole origin is left alone that long, by every replica (best effort). */
async function holdIfAsked(ctx: PipelineContext, callbackOrigin: string, error: DeliveryError): Promise<void> {
  if ((error.statusCode !== 429 && error.statusCode !== 503) || error.retryAfterSeconds === undefined) return
  try {
    await ctx.origins.hold(callbackOrigin, error.retryAfterSeconds * 1000, Date.now())
  } catch (holdError) {
    ctx.logger.warn({ origin: callbackOrigin, error: (holdError as Error).message }, 'could not share a Retry-After hold: this replica keeps it')
  }
}

/** The claim; the gate's ticket is given back unless the notification is now ours to send. */
async function claimOrAbandon(ctx: PipelineContext, dispatch: Dispatch, ticket: Ticket, signal: AbortSignal): Promise<ClaimResult> {
  const { kind, processingId } = dispatch.notification
  let claim: ClaimResult | undefined
  try {
    claim = await step(ctx, signal, () => ctx.store.claim(kind, processingId, ctx.claimMs))
    return claim
  } finally {
    if (claim?.status !== 'claimed') ctx.gate.abandon(ticket)
  }
}
