// The one loop that retries infrastructure steps (Redis, Kafka, joining a group): it tries
// until the step succeeds, waits between tries without ignoring shutdown, and retries only
// what may succeed next time (by default: no error in the chain says `canRetry: false`),
// in the spirit of platformatic/kafka's performWithRetry and BullMQ's retryIfFailed.
import { Interrupted, canRetry } from './errors.ts'
import { withDeadline } from './lib/deadline.ts'
import { sleep } from './lib/sleep.ts'

export interface RetryUntilDoneOptions {
  /** Aborted on shutdown: no further try, the wait is cut short, and Interrupted is thrown. */
  readonly signal: AbortSignal
  /** Wait between tries. */
  readonly waitMs: number
  /**
   * Make the first try even when shutdown has already begun: for work that settles
   * something already done (a delivered notification is marked whenever possible).
   */
  readonly evenIfStopping?: boolean
  /** Which failures to try again; the others are thrown as they are. */
  readonly retryIf?: (error: unknown) => boolean
  /**
   * Each try fails after `ms` (named `what` in the error) and is tried again: for a step that
   * may hang on a node lost mid-failover rather than fail. Only for a step that may run twice:
   * the late try runs on.
   */
  readonly tryTimeout?: { readonly ms: number; readonly what: string }
  /** Told of each failure that will be tried again (logs, metrics). */
  readonly onRetry?: (error: unknown) => void
}

/**
 * The first try runs without an async frame of its own: it is the one almost every step
 * needs, several times per notification; only a failure enters the loop.
 */
export function retryUntilDone<T>(step: () => Promise<T>, options: RetryUntilDoneOptions): Promise<T> {
  if (options.signal.aborted && !options.evenIfStopping) return Promise.reject(new Interrupted())
  const { tryTimeout } = options
  const operation = tryTimeout === undefined ? step : () => withDeadline(step(), tryTimeout.ms, tryTimeout.what)
  let first: Promise<T>
  try {
    first = operation()
  } catch (error) {
    return afterFailure(operation, options, error)
  }
  return first.catch((error: unknown) => afterFailure(operation, options, error))
}

/** Tries again after `error` (the last try's) until a try succeeds, a failure is final, or shutdown. */
async function afterFailure<T>(operation: () => Promise<T>, options: RetryUntilDoneOptions, error: unknown): Promise<T> {
  const { signal, retryIf = canRetry } = options
  for (let failure = error; ; ) {
    if (!retryIf(failure)) throw failure
    options.onRetry?.(failure)
    if (!(await sleep(options.waitMs, signal)) || signal.aborted) throw new Interrupted()
    try {
      return await operation()
    } catch (next) {
      failure = next
    }
  }
}
