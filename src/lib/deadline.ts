// Waiting on a promise for at most so long: the one race of a promise against a timer.
// The timer is cleared as soon as the promise settles, so a finished wait holds nothing
// (no timer keeping the process alive, no closure kept for the rest of the timeout).

/** What settleWithin gives when the promise has not settled in time. */
export const TIMED_OUT: unique symbol = Symbol('timed out')

/** The promise's value, or TIMED_OUT after `ms`; a rejection within `ms` passes through. The promise itself runs on. */
export function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(resolve, ms, TIMED_OUT)))
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** The promise's value; or a rejection with "<what> took longer than <ms> ms" after `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const result = await settleWithin(promise, ms)
  if (result === TIMED_OUT) throw new Error(`${what} took longer than ${ms} ms`)
  return result
}
