// The first stage: what the consumer group shares about a destination (origins/origin-controls.ts).
//   paused       → parked until resumed;
//   held         (Retry-After) → deferred to a retry tier, no attempt used;
//   rate-limited → its send slot (GCRA in Redis), waited for here when near, else deferred
//                  to the tier that is due then with the slot kept. rateSlot() is the one
//                  place a slot is taken: here, and again after a slow claim missed it.
import { inProcessWaitMs } from '../delivery/rate-limits.ts'
import { Interrupted } from '../errors.ts'
import { step, waitOutside, type Claimed, type Dispatch, type End, type PipelineContext } from './context.ts'
import { defer, deferToSlot, giveBackAndDefer, park } from './unattempted.ts'

/**
 * A reserved rate-limit slot missed by more than this (a busy event loop, a retry tier read
 * late) is given up for a new one: sends made late on old slots would bunch together and
 * break the limit. Any second then holds at most the limit + 10 %.
 */
const SLOT_GRACE_MS = 100

/** Go on to the gate. */
export const PASS = 'pass'
/** Waited for a near slot: look at the controls again (paused or held meanwhile?). */
export const AGAIN = 'again'

/** Synchronous when nothing stops it (no pause, hold or rate limit): the common case costs no promise. */
export function originControls(ctx: PipelineContext, dispatch: Dispatch): typeof PASS | Promise<typeof PASS | typeof AGAIN | End> {
  const standing = ctx.origins.standing(dispatch.destination, Date.now())
  if (standing.kind === 'paused') return park(ctx, dispatch)
  if (standing.kind === 'held') return defer(ctx, dispatch, { kind: 'refused', reason: 'held', retryAt: standing.until, destination: dispatch.destination })
  const slot = rateSlot(ctx, dispatch)
  return slot === 'ready' ? PASS : untilSlot(ctx, dispatch, slot)
}

async function untilSlot(ctx: PipelineContext, dispatch: Dispatch, slot: 'near' | Promise<SlotState>): Promise<typeof PASS | typeof AGAIN | End> {
  const state = await slot
  if (state === 'far') return deferToSlot(ctx, dispatch)
  if (state === 'ready') return PASS
  await waitForSlot(dispatch)
  return AGAIN
}

/** Claimed after a slow claim that missed its slot: the slot is taken again; when far, the claim is given back and it is deferred. */
export async function retakeMissedSlot(ctx: PipelineContext, dispatch: Dispatch, claimed: Claimed): Promise<Claimed | End> {
  const state = await rateSlot(ctx, dispatch)
  if (state === 'far') {
    ctx.admission.abandon(claimed.ticket)
    return giveBackAndDefer(ctx, dispatch, claimed.token)
  }
  if (state === 'near') await waitForSlot(dispatch).catch((error: unknown) => {
    ctx.admission.abandon(claimed.ticket)
    throw error
  })
  return claimed
}

/** A reserved rate-limit slot more than SLOT_GRACE_MS in the past. */
export function missed(slotAt: number | undefined): boolean {
  return slotAt !== undefined && Date.now() - slotAt > SLOT_GRACE_MS
}

type SlotState = 'ready' | 'near' | 'far'

/** Where its slot stands (dispatch.slotAt); a missed one is given up and, under a limit, a new one taken. */
function rateSlot(ctx: PipelineContext, dispatch: Dispatch): 'ready' | 'near' | Promise<SlotState> {
  if (missed(dispatch.slotAt)) dispatch.slotAt = undefined
  if (dispatch.slotAt === undefined) {
    const perSecond = ctx.origins.rateLimitFor(dispatch.destination)
    return perSecond === undefined ? 'ready' : takeSlot(ctx, dispatch, perSecond)
  }
  return dispatch.slotAt > Date.now() ? 'near' : 'ready'
}

/** The destination's next send slot: near enough to wait for here, or far (waited for in a retry tier). */
async function takeSlot(ctx: PipelineContext, dispatch: Dispatch, perSecond: number): Promise<SlotState> {
  const at = await step(ctx, dispatch.signal, () => ctx.origins.reserve(dispatch.destination, perSecond))
  dispatch.slotAt = at
  const waitMs = at - Date.now()
  return waitMs > inProcessWaitMs(perSecond) ? 'far' : waitMs > 0 ? 'near' : 'ready'
}

async function waitForSlot(dispatch: Dispatch): Promise<void> {
  if (!(await waitOutside(dispatch.waits, (dispatch.slotAt ?? 0) - Date.now(), dispatch.signal))) throw new Interrupted()
}
