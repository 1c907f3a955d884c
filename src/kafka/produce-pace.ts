// How long records bound for one topic wait for others to share a produce request (pure).
// A broker answers a connection's requests one at a time, and with acks=all only once its
// followers hold the records: a request takes a follower's round trip, not a local write.
// Requests sent faster than that only queue on the connection, each still carrying the one
// or two records a fixed 2 ms gathered at a few hundred a second: in the soak (three brokers
// over SASL_SSL on a loaded machine) records waited on their outcome record more than on
// anything else, and a backlog after a fault drained at what the queue let through.
// So records wait half as long as a request lately took (an average over the last ~10),
// within [minMs, maxMs]: on a slow cluster a batch carries what comes in half a round trip
// (two requests per round trip, per topic); on a fast local broker (a request in ~4 ms) the
// wait stays at minMs, as before: waiting the whole round trip there cost the event loop 2–3
// points of its busy share in the bench, records waiting longer while the loop was at its limit.

export interface ProducePaceOptions {
  /** The wait when requests come back at once (and the start). */
  readonly minMs: number
  /** Never longer: each record's own wait for its request to leave. */
  readonly maxMs: number
}

/** Weight of the newest request in the average. */
const SMOOTHING = 0.1

export class ProducePace {
  readonly #options: ProducePaceOptions
  #requestMs: number

  constructor(options: ProducePaceOptions) {
    if (!(options.minMs >= 0 && options.maxMs >= options.minMs)) throw new RangeError('produce pace: need 0 ≤ minMs ≤ maxMs')
    this.#options = options
    this.#requestMs = options.minMs
  }

  /** How long the next batch waits for more records, ms. */
  get lingerMs(): number {
    return Math.min(this.#options.maxMs, Math.max(this.#options.minMs, Math.round(this.#requestMs / 2)))
  }

  /** A produce request was answered (or failed) `ms` after it was sent. */
  answered(ms: number): void {
    this.#requestMs += SMOOTHING * (ms - this.#requestMs)
  }
}
