// The one walk of an error chain: an error, the errors it aggregates (an AggregateError's
// `errors`, which the Kafka client's MultipleErrors is) and its `cause`, depth first, in that
// order. Bounded in depth and safe against chains that point back at themselves. Callers
// say what they look for; the walk decides nothing.

/** How the walk reached a value: `depth` links below the error it started from; `aggregated`: as one of an AggregateError's errors (else as the start or a `cause`). */
export interface ChainLink {
  readonly depth: number
  readonly aggregated: boolean
}

/**
 * What the walk does after the visitor has looked at a value:
 * - nothing (undefined): goes on into its aggregated errors, then its cause;
 * - `'skip-cause'`: goes into its aggregated errors but not its cause;
 * - `'skip-below'`: goes into neither (the walk goes on beside it);
 * - `'stop'`: ends the walk.
 */
export type ChainStep = 'skip-cause' | 'skip-below' | 'stop' | undefined

export type ChainVisitor = (value: unknown, link: ChainLink) => ChainStep | void

/** Depth of the deepest value visited, unless the caller says otherwise. */
export const CHAIN_MAX_DEPTH = 8

/**
 * Calls `visit` on `error` and every value (never null or undefined) below it, each once,
 * down to `maxDepth` links.
 */
export function walkErrorChain(error: unknown, visit: ChainVisitor, maxDepth = CHAIN_MAX_DEPTH): void {
  const seen = new Set<unknown>()
  const walk = (value: unknown, depth: number, aggregated: boolean): boolean => {
    if (value === undefined || value === null || depth > maxDepth || seen.has(value)) return false
    seen.add(value)
    const step = visit(value, { depth, aggregated })
    if (step === 'stop') return true
    if (step === 'skip-below') return false
    if (value instanceof AggregateError && Array.isArray(value.errors)) {
      for (const inner of value.errors as unknown[]) if (walk(inner, depth + 1, true)) return true
    }
    return step === 'skip-cause' ? false : walk((value as { cause?: unknown }).cause, depth + 1, false)
  }
  walk(error, 0, false)
}

/**
 * The first value that passes `test`: the error, then down its causes; of an AggregateError
 * on the way, each of its errors too (themselves, not what lies below them). Down to
 * CHAIN_MAX_DEPTH links.
 */
export function findInChain<T>(error: unknown, test: (value: unknown) => value is T): T | undefined
export function findInChain(error: unknown, test: (value: unknown) => boolean): unknown
export function findInChain(error: unknown, test: (value: unknown) => boolean): unknown {
  let found: unknown
  walkErrorChain(error, (value, { aggregated }) => {
    if (test(value)) {
      found = value
      return 'stop'
    }
    return aggregated ? 'skip-below' : undefined
  })
  return found
}
