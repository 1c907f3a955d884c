// The attempt loop of one claimed notification: send, and on a failure the policy says
// may pass, keep the claim alive and wait (without blocking anything else), then send again.
import type { DeliveryError } from '../errors.ts'
import type { Notification } from '../notifications/payload.ts'
import type { AttemptOutcome } from './http-client.ts'
import { decideRetry, type RetryPolicy } from './retry-policy.ts'

export type DeliveryResult =
  | { status: 'delivered'; attempts: number; statusCode: number }
  | { status: 'failed'; attempts: number; error: DeliveryError }
  /** Stopped before a final outcome (shutdown, or the claim was lost): nothing may be recorded. */
  | { status: 'interrupted'; attempts: number; reason: 'shutdown' | 'claim-lost' }

export interface DeliveryLoopDeps {
  send(notification: Notification): Promise<AttemptOutcome>
  /** Extends the claim to cover the coming wait and attempt; false when it is no longer ours. */
  keepClaim(ttlMs: number): Promise<boolean>
  policy: RetryPolicy
  /** Time a claim must cover beyond a wait: one attempt plus a margin. */
  attemptBudgetMs: number
  onAttempt?(outcome: AttemptOutcome, attempt: number): void
  onRetryScheduled?(delayMs: number, attempt: number, error: DeliveryError): void
}

export async function deliverWithRetries(notification: Notification, deps: DeliveryLoopDeps, signal: AbortSignal): Promise<DeliveryResult> {
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) return { status: 'interrupted', attempts: attempt - 1, reason: 'shutdown' }
    const outcome = await deps.send(notification)
    deps.onAttempt?.(outcome, attempt)
    if (outcome.ok) return { status: 'delivered', attempts: attempt, statusCode: outcome.statusCode }

    const decision = decideRetry(deps.policy, attempt, outcome.error)
    if (!decision.retry) return { status: 'failed', attempts: attempt, error: outcome.error }

    if (!(await deps.keepClaim(decision.delayMs + deps.attemptBudgetMs))) {
      return { status: 'interrupted', attempts: attempt, reason: 'claim-lost' }
    }
    deps.onRetryScheduled?.(decision.delayMs, attempt, outcome.error)
    if (!(await sleep(decision.delayMs, signal))) return { status: 'interrupted', attempts: attempt, reason: 'shutdown' }
  }
}

/** Resolves true after `ms`, or false as soon as the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
