// How far another machine's clock is from ours, from request/answer round trips, the way NTP
// does it: the answer's time is taken to be the middle of the round trip, and of recent
// samples the one with the shortest round trip is trusted most (a late answer, read after
// a busy event loop, says little). Used to turn Redis's times into this replica's.

export class ClockOffset {
  readonly #maxAgeMs: number
  #best: { offsetMs: number; roundTripMs: number; at: number } | undefined

  /** @param maxAgeMs a sample older than this is replaced by the next one, whatever its round trip */
  constructor(maxAgeMs = 30_000) {
    this.#maxAgeMs = maxAgeMs
  }

  /** Whether a sample was taken. */
  get known(): boolean {
    return this.#best !== undefined
  }

  /** Their time minus ours, ms; 0 before any sample. */
  get offsetMs(): number {
    return this.#best?.offsetMs ?? 0
  }

  /** @param theirs their clock when they answered; sentAt, receivedAt: ours around the call */
  sample(theirs: number, sentAt: number, receivedAt: number): void {
    const roundTripMs = receivedAt - sentAt
    const stale = this.#best === undefined || receivedAt - this.#best.at > this.#maxAgeMs
    if (stale || roundTripMs <= (this.#best?.roundTripMs ?? Infinity)) {
      this.#best = { offsetMs: theirs - (sentAt + receivedAt) / 2, roundTripMs, at: receivedAt }
    }
  }

  /** One of their times on our clock. */
  toLocal(theirs: number): number {
    return theirs - this.offsetMs
  }
}
