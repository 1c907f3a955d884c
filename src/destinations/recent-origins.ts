// The origins each destination matched lately, for the admin view: a few per destination
// (its pattern), newest last in a Map so the oldest is dropped first. Noted at every
// attempt, so an origin seen again within a second is not moved.

const PER_DESTINATION = 5
const REFRESH_MS = 1000

export class RecentOrigins {
  readonly #byPattern = new Map<string, Map<string, number>>()

  note(pattern: string, origin: string, at: number): void {
    let recent = this.#byPattern.get(pattern)
    if (recent === undefined) {
      recent = new Map()
      this.#byPattern.set(pattern, recent)
    }
    const seen = recent.get(origin)
    if (seen !== undefined && at - seen < REFRESH_MS) return
    recent.delete(origin)
    recent.set(origin, at)
    if (recent.size > PER_DESTINATION) recent.delete(recent.keys().next().value!)
  }

  /** Newest first. */
  of(pattern: string): Array<{ origin: string; at: number }> {
    return [...(this.#byPattern.get(pattern) ?? [])].reverse().map(([origin, at]) => ({ origin, at }))
  }

  /** Forgets destinations no longer in the file (those kept keep their history across reloads). */
  keepOnly(patterns: ReadonlySet<string>): void {
    for (const pattern of this.#byPattern.keys()) if (!patterns.has(pattern)) this.#byPattern.delete(pattern)
  }
}
