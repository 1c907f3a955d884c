// Waits until enough of the items a test receiver collects (requests, spans) match: checked now
// and each time the receiver calls its waiters, rejected with `describe(found)` at the timeout.

export function waitForMatches<T>(
  items: readonly T[],
  waiters: Set<() => void>,
  count: number,
  timeoutMs: number,
  filter: (item: T) => boolean,
  describe: (found: number) => string,
): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const matching = items.filter(filter)
      if (matching.length >= count) {
        waiters.delete(check)
        clearTimeout(timer)
        resolve(matching)
      }
    }
    const timer = setTimeout(() => {
      waiters.delete(check)
      reject(new Error(describe(items.filter(filter).length)))
    }, timeoutMs)
    waiters.add(check)
    check()
  })
}
