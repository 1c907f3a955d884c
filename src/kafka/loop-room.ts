// Whether a consumer loop has room for more records (pure). Three bounds: the adaptive
// in-flight limit (in-flight-limit.ts), which records waiting long on others do not count
// against; `Tuning.maxInFlight` for all records; and the bytes of their values (a single
// record always has room, however large). The loop pauses its stream when a record leaves
// no room, and takes records again once `RESUME_SHARE` of the room is free.

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
  readonly bytesInFlight: number
}

/** Resume at three quarters, not at once: pause and resume each cost a fetch. */
export const RESUME_SHARE = 0.75

/** Whether the load stays under `share` of every bound. */
export function hasRoom(load: LoopLoad, limits: RoomLimits, share: number): boolean {
  const { inFlight, waitingLong, bytesInFlight } = load
  return inFlight - waitingLong < limits.adaptive.value * share &&
    inFlight < limits.maxInFlight * share &&
    (inFlight === 0 || bytesInFlight < limits.maxInFlightBytes * share)
}
