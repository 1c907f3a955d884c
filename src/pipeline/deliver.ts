// One notification, from its destination's controls to a durable end, as a chain of stages:
//   controls (controls.ts: shared by the group: paused → parked until resumed; held by
//            Retry-After → deferred; rate-limited → its send slot, waited for here or in a tier)
//   admit    (this replica's gate for the destination: circuit and concurrency limit; may wait briefly for a slot;
//            a refusal, here or by the controls, is decided under the claim too: unattempted.ts)
//   claim    (Redis: already done → skipped, its outcome published again; another replica sending → wait and look again;
//            a claim with less than one attempt's time left when the attempt would start — the process was
//            frozen or starved meanwhile — is not sent on: its ticket goes back and it is claimed again)
//   attempt  (one try through the transport; what its answer means is the answer table's, answers.ts)
//   conclude (the pure decision, decide.ts → carried out, carry-out.ts)
// The ends reached without an attempt are unattempted.ts's. Returns once the end is durable;
// on shutdown before an attempt, rejects with Interrupted. The whole handling is one span
// continuing the record's trace, the attempt a child span whose context goes with it; what
// carry-out writes to Kafka carries the context on.
import { ANSWERS } from '../delivery/answers.ts'
import type { Ticket } from '../delivery/origin-gate.ts'
import type { AttemptOutcome } from '../delivery/transport.ts'
import { ErrorCodes, Interrupted, NotificationError, describeError, type DeliveryError } from '../errors.ts'
import type { ClaimResult } from '../store/notification-store.ts'
import type { HandlingResult } from '../telemetry/attributes.ts'
import { carryOut } from './carry-out.ts'
import { step, waitOutside, type Claimed, type Dispatch, type End, type Incoming, type PipelineContext } from './context.ts'
import { AGAIN, PASS, missed, originControls, retakeMissedSlot } from './controls.ts'
import { decide, type Decision } from './decide.ts'
import { attemptRecord } from './status-records.ts'
import { duplicate, refusedByGate, superseded } from './unattempted.ts'

/** Longest wait between looks at a notification another replica is sending. */
const BUSY_POLL_MAX_MS = 1000
/** Kept free at the end of a claim beyond one attempt's timeout: the attempt's answer handled, Redis' expiry. */
const LEASE_SAFETY_MS = 1000

export async function deliver(ctx: PipelineContext, incoming: Incoming): Promise<void> {
  const dispatch = dispatchOf(ctx, incoming)
  const { history } = incoming
  let end: End
  try {
    let claimed = await untilClaimed(ctx, dispatch)
    while (claimed.kind === 'claimed' && !leaseHolds(ctx, dispatch, claimed)) claimed = await claimAgain(ctx, dispatch, claimed)
    end = claimed.kind === 'claimed' ? await attemptAndConclude(ctx, dispatch, claimed) : claimed
  } catch (error) {
    if (error instanceof Interrupted) dispatch.handling.end('interrupted', history.attempts)
    else dispatch.handling.end('error', history.attempts, { code: error instanceof NotificationError ? error.code : ErrorCodes.INTERNAL, message: describeError(error) })
    throw error
  }
  if (end.kind === 'duplicate' || end.kind === 'parked') dispatch.handling.end(end.kind, history.attempts)
  else dispatch.handling.end(RESULT_OF[end.kind], end.history.attempts, end.kind === 'delivered' ? undefined : end.error)
}

const RESULT_OF: Record<Decision['kind'], HandlingResult> = { delivered: 'delivered', retry: 'retrying', 'give-up': 'failed' }

function dispatchOf(ctx: PipelineContext, incoming: Incoming): Dispatch {
  const { notification, history, record, reservedSlotAt } = incoming
  const handling = ctx.tracing.handling(record, { kind: notification.kind, processingId: notification.processingId, previousAttempts: history.attempts })
  const destination = ctx.transport.destinationOf(notification)
  const { provenance, waits, signal } = incoming
  return { notification, provenance, history, reservedSlotAt, record, waits, signal, destination, handling, slotAt: reservedSlotAt }
}

/** Controls → admit → claim, until it is claimed for its attempt or has reached an end without one. */
async function untilClaimed(ctx: PipelineContext, dispatch: Dispatch): Promise<Claimed | End> {
  for (;;) {
    dispatch.waits.stage = 'controls'
    const controlled = originControls(ctx, dispatch)
    const passed = controlled === PASS ? PASS : await controlled
    if (passed === AGAIN) continue
    if (passed !== PASS) return passed

    dispatch.waits.stage = 'admission'
    const admitted = await ctx.admission.admit(dispatch.destination, dispatch.signal)
    if (!admitted.ok) return refusedByGate(ctx, dispatch, admitted)

    const { ticket } = admitted
    const at = performance.now()
    const { claimMs } = ctx.timing(dispatch.destination)
    dispatch.waits.stage = 'claim'
    // The gate's ticket is given back unless the notification is now ours to send.
    let claim: ClaimResult
    try {
      claim = await step(ctx, dispatch.signal, () => ctx.store.claim(dispatch.notification.kind, dispatch.notification.processingId, claimMs, dispatch.history))
    } catch (error) {
      ctx.admission.abandon(ticket)
      throw error
    }
    if (claim.status !== 'claimed') ctx.admission.abandon(ticket)
    if (claim.status === 'done') return duplicate(ctx, dispatch)
    if (claim.status === 'superseded') return superseded(ctx, dispatch)
    if (claim.status === 'busy') {
      if (!(await waitOutside(dispatch.waits, Math.min(claim.retryInMs, BUSY_POLL_MAX_MS), dispatch.signal))) throw new Interrupted()
      continue
    }
    // A slot missed meanwhile (a slow claim under load) is taken again: the send must not bunch with later ones.
    const claimed: Claimed = { kind: 'claimed', ticket, token: claim.token, at, claimMs }
    if (missed(dispatch.slotAt)) return retakeMissedSlot(ctx, dispatch, claimed)
    return claimed
  }
}

/**
 * Whether the claim still holds for a whole attempt, by this process's monotonic clock
 * (a frozen or starved process sees its claim's true age): another replica may take a
 * claim once it has expired, and both would send. Checked with nothing awaited before the
 * send, against the destination's timeout now (a reloaded destinations file may have changed it).
 */
function leaseHolds(ctx: PipelineContext, dispatch: Dispatch, claimed: Claimed): boolean {
  return performance.now() - claimed.at + ctx.timing(dispatch.destination).attemptMs + LEASE_SAFETY_MS <= claimed.claimMs
}

/** Its claim is too old to send on: the ticket goes back, and the claim stage decides again (done → duplicate, busy → wait, or claimed anew). */
function claimAgain(ctx: PipelineContext, dispatch: Dispatch, stale: Claimed): Promise<Claimed | End> {
  ctx.admission.abandon(stale.ticket)
  const { kind, processingId } = dispatch.notification
  ctx.logger.warn({ processingId, kind, claimAgeMs: Math.round(performance.now() - stale.at), claimMs: stale.claimMs }, 'claim too old to send on (process frozen or starved?): claimed again')
  return untilClaimed(ctx, dispatch)
}

/** The attempt, then its conclusion: from the attempt on, it is settled even if shutdown began meanwhile. */
async function attemptAndConclude(ctx: PipelineContext, dispatch: Dispatch, claimed: Claimed): Promise<Decision> {
  const { notification, history, destination } = dispatch
  const startedAt = Date.now()
  const traced = dispatch.handling.attempt({ name: ctx.transport.attemptName, number: history.attempts + 1, destination })
  dispatch.waits.begin(startedAt)
  dispatch.waits.stage = 'attempt'
  const outcome = await ctx.transport.send(notification, traced.headers)
  dispatch.waits.end(Date.now())
  traced.end(outcome)
  const holding = observe(ctx, dispatch, claimed.ticket, outcome)
  if (holding !== undefined) await holding

  const record = attemptRecord(outcome, startedAt)
  const decision = decide({ kind: 'attempted', outcome, startedAt }, history, ctx.schedule, Date.now())
  const result = await carryOut(ctx, dispatch, decision, { token: claimed.token, record })
  const { processingId, kind } = notification
  const { status_code: statusCode, error } = record
  ctx.activity.note({ at: startedAt, processingId, kind, result, attempts: decision.history.attempts, statusCode, error, durationMs: outcome.durationMs, callbackOrigin: destination })
  return decision
}

/** What the answer means for its destination (answers.ts): the gate's circuit and limit, a Retry-After hold; and the metrics. */
function observe(ctx: PipelineContext, dispatch: Dispatch, ticket: Ticket, outcome: AttemptOutcome): Promise<void> | undefined {
  const rule = ANSWERS[outcome.answer]
  ctx.admission.release(ticket, rule, outcome.durationMs, outcome.ok ? undefined : outcome.error.message)
  ctx.metrics.attempts.count(outcome.ok ? 'ok' : outcome.error.code)
  ctx.metrics.attemptDuration.observe(outcome.durationMs / 1000)
  return !outcome.ok && rule.retryAfter === 'holds-origin' ? holdIfAsked(ctx, dispatch.destination, outcome.error) : undefined
}

/** Retry-After on an answer that holds its destination: left alone that long, by every replica (best effort). */
async function holdIfAsked(ctx: PipelineContext, destination: string, error: DeliveryError): Promise<void> {
  if (error.retryAfterSeconds === undefined) return
  try {
    await ctx.origins.hold(destination, error.retryAfterSeconds * 1000, Date.now())
  } catch (holdError) {
    ctx.logger.warn({ origin: destination, error: describeError(holdError) }, 'could not share a Retry-After hold: this replica keeps it')
  }
}
