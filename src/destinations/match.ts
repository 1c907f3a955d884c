// Pure: which destination of a set an origin falls under (contract §4): its exact origin, else
// the longest wildcard host it ends with (same scheme and port; one or more labels in front,
// never the apex), else "*". Asked at every attempt, so answers are memoised per set, in a
// bounded map dropped whole when full (origins are few; a flood of new ones costs a rebuild).
import { ANY_ORIGIN, hostOf } from './origin-pattern.ts'
import type { DestinationPolicy, DestinationSet } from './policy.ts'

const MEMO_LIMIT = 10_000

export class DestinationMatcher {
  readonly #byPattern = new Map<string, DestinationPolicy>()
  readonly #anyOrigin: DestinationPolicy | undefined
  readonly #hasWildcards: boolean
  readonly #memo = new Map<string, DestinationPolicy | null>()

  constructor(set: DestinationSet) {
    for (const policy of set.policies) this.#byPattern.set(policy.pattern, policy)
    this.#anyOrigin = this.#byPattern.get(ANY_ORIGIN)
    this.#hasWildcards = set.policies.some((policy) => policy.pattern.includes('://*.'))
  }

  /** @param origin as URL.origin gives it ("https://host[:port]", lowercase host, default port omitted) */
  match(origin: string): DestinationPolicy | undefined {
    const known = this.#memo.get(origin)
    if (known !== undefined) return known ?? undefined
    const found = this.#find(origin)
    if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear()
    this.#memo.set(origin, found ?? null)
    return found
  }

  #find(origin: string): DestinationPolicy | undefined {
    const exact = this.#byPattern.get(origin)
    if (exact !== undefined) return exact
    return (this.#hasWildcards ? this.#wildcardFor(origin) : undefined) ?? this.#anyOrigin
  }

  /** "https://a.b.acme.example:8443" asks for https://*.b.acme.example:8443, then https://*.acme.example:8443, then https://*.example:8443. */
  #wildcardFor(origin: string): DestinationPolicy | undefined {
    const host = hostOf(origin)
    if (host.startsWith('[')) return undefined
    const schemeEnd = origin.indexOf('://') + 3
    const scheme = origin.slice(0, schemeEnd)
    const port = origin.slice(schemeEnd + host.length)
    for (let dot = host.indexOf('.'); dot !== -1 && dot < host.length - 1; dot = host.indexOf('.', dot + 1)) {
      const policy = this.#byPattern.get(`${scheme}*${host.slice(dot)}${port}`)
      if (policy !== undefined) return policy
    }
    return undefined
  }
}

/** The most specific destination of `set` for `origin` (no memo: for one-off questions). */
export function matchDestination(set: DestinationSet, origin: string): DestinationPolicy | undefined {
  return new DestinationMatcher(set).match(origin)
}
