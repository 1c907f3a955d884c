// Whether a consumer loop has room for more records (pure). Three bounds: the adaptive
// in-flight limit (in-flight-limit.ts), which records waiting long on others do not count
// against, nor, while the process has CPU to spare, records whose end is durable (only
// their outcome record left to acknowledge); `Tuning.maxInFlight` for all records; and the
// bytes of their values (a single record always has room, however large). The loop pauses
// its stream when a record leaves no room, and takes records again once `RESUME_SHARE` of
// the room is free.
//
// Why not the ended records when the process is starved (StallShare): letting them out of
// the limit lets more attempts run at once, which a process short of CPU answers late. In
// the fault soak (docs/soak.md, run 20), on a box at load ~12 of 2 cores, it multiplied the
// attempts timed out with their 2xx unheard by 20 and failed it; in the bench, with a core
// of its own, it raised the event loop's busy share from ~85 % to ~94 %.

/** The bounds, as the loop holds them: `adaptive.value` moves as the loop learns. */
export interface RoomLimits {
  readonly adaptive: { readonly value: number }
  readonly maxInFlight: number
  readonly maxInFlightBytes: number
}

/** Records in flight now, as the loop counts them. */
export interface LoopLoad {
  readonly inFlight: number
  /** Of them, those waiting on others for long (not held to the adaptive limit). */
  readonly waitingLong: number
  /** Of them, those whose end is durable, publishing what it was, not held to the adaptive limit (0 while starved). */
  readonly ended: number
  readonly bytesInFlight: number
}

/** Resume at three quarters, not at once: pause and resume each cost a fetch. */
export const RESUME_SHARE = 0.75

/** Whether the load stays under `share` of every bound. */
export function hasRoom(load: LoopLoad, limits: RoomLimits, share: number): boolean {
  const { inFlight, waitingLong, ended, bytesInFlight } = load
  return inFlight - waitingLong - ended < limits.adaptive.value * share &&
    inFlight < limits.maxInFlight * share &&
    (inFlight === 0 || bytesInFlight < limits.maxInFlightBytes * share)
}

/** A stall share above this (of the last second or so) is a process short of CPU. */
export const STARVED_SHARE = 0.05
/** Weight of the newest reading: readings every commit interval (200 ms), so about a second. */
const STALL_SMOOTHING = 0.2

/**
 * The share of recent time this process was stalled (lib/loop-stall.ts: late timers beyond
 * ordinary jitter, from its own long turns or from not being scheduled), averaged over
 * readings; pure: the stall so far and the clock are inputs.
 */
export class StallShare {
  #stalledMs: number
  #at: number
  #share = 0

  constructor(stalledMs: number, now: number) {
    this.#stalledMs = stalledMs
    this.#at = now
  }

  get value(): number {
    return this.#share
  }

  get starved(): boolean {
    return this.#share > STARVED_SHARE
  }

  read(stalledMs: number, now: number): void {
    const elapsed = now - this.#at
    if (elapsed <= 0) return
    const share = Math.min(1, (stalledMs - this.#stalledMs) / elapsed)
    this.#share += STALL_SMOOTHING * (share - this.#share)
    this.#stalledMs = stalledMs
    this.#at = now
  }
}
