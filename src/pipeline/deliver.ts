// One notification, from admission to a durable end:
//   admit  (the callback origin's gate: circuit and concurrency limit; may wait briefly for a slot)
//   claim  (Redis: already done → skip; another replica sending → wait and look again)
//   attempt (one HTTP POST)
//   settle (pure decision: settle.ts) → carry out (carry-out.ts)
// Returns once the end is durable; on shutdown before an attempt, rejects with Interrupted.
import { endpointSignal } from '../delivery/endpoint-health.ts'
import { originOf, type Ticket } from '../delivery/origin-gate.ts'
import { Interrupted } from '../errors.ts'
import { sleep } from '../lib/sleep.ts'
import type { ClaimResult } from '../store/notification-store.ts'
import { carryOut } from './carry-out.ts'
import { step, type Dispatch, type PipelineContext } from './context.ts'
import { attemptRecord } from './letters.ts'
import { settle } from './settle.ts'

/** Longest wait between looks at a notification another replica is sending. */
const BUSY_POLL_MAX_MS = 1000

export async function deliver(ctx: PipelineContext, dispatch: Dispatch, signal: AbortSignal): Promise<void> {
  const { gate, metrics, logger } = ctx
  const { notification, history } = dispatch
  const { kind, processingId } = notification
  const callbackOrigin = originOf(notification.callbackUrl)
  for (;;) {
    // Admit
    const admitted = await gate.admit(callbackOrigin, signal)
    if (!admitted.ok) {
      metrics.deferred.inc({ reason: admitted.reason })
      const now = Date.now()
      const decision = settle({ kind: 'refused', reason: admitted.reason, retryAt: admitted.retryAt, callbackOrigin }, history, ctx.schedule, now)
      await carryOut(ctx, dispatch, decision, undefined, signal)
      return
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
    gate.release(admitted.ticket, outcome.ok || endpointSignal(outcome.error) === 'fine', outcome.durationMs)
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
