// The ends a notification reaches without an attempt: parked while its destination is
// paused; deferred to a retry tier when the destination refused it for now (Retry-After
// hold, circuit open, saturated) or its rate-limit slot is far; skipped as a duplicate (its
// outcome published again), or as a copy that another copy's attempt or deferral superseded.
// An open circuit that lasted too long pauses the destination.
import type { Refusal } from '../delivery/origin-gate.ts'
import { endAgain, carryOut, parkWhilePaused } from './carry-out.ts'
import { Interrupted } from '../errors.ts'
import { DUPLICATE, PARKED, step, waitOutside, type Dispatch, type End, type PipelineContext } from './context.ts'
import { decide, type Happening } from './decide.ts'
import { statusRecord } from './status-records.ts'

/** Longest wait between looks at a notification another copy is being sent of (as deliver.ts's claim stage). */
const BUSY_POLL_MAX_MS = 1000

export async function park(ctx: PipelineContext, dispatch: Dispatch): Promise<End> {
  await parkWhilePaused(ctx, dispatch)
  return PARKED
}

/**
 * Sent to a retry tier without an attempt, or given up when its destination refused it for
 * the whole schedule. A refusal is decided under the notification's claim, as an attempt is:
 * a copy read again (a stream replaced, a rebalance) of one another copy delivered meanwhile
 * is skipped, never deferred or dead-lettered on top of its delivery; another copy being
 * sent: wait and look again. A later slot needs no claim (it ends in a retry, claimed then).
 */
export async function defer(ctx: PipelineContext, dispatch: Dispatch, happening: Exclude<Happening, { kind: 'attempted' }>): Promise<End> {
  const token = happening.kind === 'refused' ? await claimToEnd(ctx, dispatch) : undefined
  if (typeof token === 'object') return token
  ctx.metrics.deferred.inc({ reason: happening.kind === 'slot-later' ? 'rate-limited' : happening.reason })
  const decision = decide(happening, dispatch.history, ctx.schedule, Date.now())
  await carryOut(ctx, dispatch, decision, undefined, token)
  return decision
}

/** The claim for an end without an attempt: its token, or the end it reached (done already, or superseded). */
async function claimToEnd(ctx: PipelineContext, dispatch: Dispatch): Promise<string | End> {
  const { kind, processingId } = dispatch.notification
  dispatch.waits.stage = 'claim'
  for (;;) {
    const claim = await step(ctx, dispatch.signal, () => ctx.store.claim(kind, processingId, ctx.timing(dispatch.destination).claimMs, dispatch.history))
    if (claim.status === 'claimed') return claim.token
    if (claim.status === 'done') return duplicate(ctx, dispatch)
    if (claim.status === 'superseded') return superseded(ctx, dispatch)
    if (!(await waitOutside(dispatch.waits, Math.min(claim.retryInMs, BUSY_POLL_MAX_MS), dispatch.signal))) throw new Interrupted()
  }
}

/** Its reserved rate-limit slot (dispatch.slotAt) is too far to wait for here. */
export function deferToSlot(ctx: PipelineContext, dispatch: Dispatch): Promise<End> {
  return defer(ctx, dispatch, { kind: 'slot-later', slotAt: dispatch.slotAt ?? Date.now(), destination: dispatch.destination })
}

/** The gate refused it; a circuit open longer than CALLBACK_AUTO_PAUSE_AFTER pauses the destination, and it is parked. */
export async function refusedByGate(ctx: PipelineContext, dispatch: Dispatch, refusal: Refusal): Promise<End> {
  const { destination, signal } = dispatch
  dispatch.waits.stage = 'refused'
  if (refusal.reason === 'circuit-open' && (await step(ctx, signal, () => ctx.origins.pauseIfOpenTooLong(destination, refusal.openSince, refusal.lastError, Date.now())))) {
    return park(ctx, dispatch)
  }
  return defer(ctx, dispatch, { kind: 'refused', reason: refusal.reason, retryAt: refusal.retryAt, destination })
}

/** Claimed, but its new slot is far: deferred, and the claim given back (best effort: it expires anyway). */
export async function giveBackAndDefer(ctx: PipelineContext, dispatch: Dispatch, token: string): Promise<End> {
  const decision = await deferToSlot(ctx, dispatch)
  const { kind, processingId } = dispatch.notification
  const status = statusRecord('retrying', dispatch.history, { status_code: null, error: null }, dispatch.slotAt ?? null, Date.now())
  await ctx.store.saveSettlement({ kind, processingId, done: false, token, status, attempt: undefined }).catch(() => undefined)
  return decision
}

/**
 * Attempted or deferred since this copy was written (a record read twice: a rebalance, a crash before a
 * commit): the retry record that attempt or deferral wrote carries the notification on; this copy ends,
 * rather than make an attempt and a retry record of its own at each step of the schedule.
 */
export function superseded(ctx: PipelineContext, dispatch: Dispatch): End {
  const { kind, processingId } = dispatch.notification
  ctx.metrics.duplicates.count()
  ctx.logger.debug({ processingId, kind, attempts: dispatch.history.attempts, deferrals: dispatch.history.deferrals }, 'attempted or deferred since this copy was written: skipped, a later copy carries it on')
  return DUPLICATE
}

/** Already done: skipped; what its end owes done again (carry-out.ts endAgain). */
export async function duplicate(ctx: PipelineContext, dispatch: Dispatch): Promise<End> {
  const { kind, processingId } = dispatch.notification
  ctx.metrics.duplicates.count()
  ctx.logger.debug({ processingId, kind }, 'already sent: skipped, its outcome published again')
  await endAgain(ctx, dispatch)
  return DUPLICATE
}
