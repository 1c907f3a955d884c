// The one loop that retries infrastructure steps (Redis, Kafka, joining a group): it tries
// until the step succeeds, waits between tries without ignoring shutdown, and retries only
// what may succeed next time (by default: no error in the chain says `canRetry: false`),
// in the spirit of platformatic/kafka's performWithRetry and BullMQ's retryIfFailed.
import { Interrupted, canRetry } from '../errors.ts'
import { sleep } from './sleep.ts'

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
  /** Told of each failure that will be tried again (logs, metrics). */
  readonly onRetry?: (error: unknown) => void
}

export async function retryUntilDone<T>(operation: () => Promise<T>, options: RetryUntilDoneOptions): Promise<T> {
  const { signal, retryIf = canRetry } = options
  for (let tries = 0; ; tries++) {
    if (signal.aborted && !(options.evenIfStopping && tries === 0)) throw new Interrupted()
    try {
      return await operation()
    } catch (error) {
      if (!retryIf(error)) throw error
      options.onRetry?.(error)
      if (!(await sleep(options.waitMs, signal))) throw new Interrupted()
    }
  }
}
