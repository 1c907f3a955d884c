// How long this process has been stalled: its event loop blocked by its own work, or the
// process not scheduled at all (a starved box, SIGSTOP, a long pause). A timer ticks every
// TICK_MS; what each tick comes later than that, beyond TOLERANCE_MS of ordinary jitter, is
// added up. An attempt's deadline reads it (delivery/attempt.ts) to tell a timeout its
// endpoint caused from one this process caused (stalled for half the attempt or more): under
// load on a shared machine, healthy endpoints' circuits opened on "timeouts" of answers that
// were in fact prompt, and the refusals that followed fed the load (docs/soak.md, run 4).

const TICK_MS = 50
/** Lateness per tick counted as stall only beyond this: a busy loop's ordinary jitter is not. */
const TOLERANCE_MS = 20

let stalledMs = 0
let lastTick = 0
let ticker: NodeJS.Timeout | undefined

function tick(): void {
  const now = performance.now()
  const late = now - lastTick - TICK_MS
  if (late > TOLERANCE_MS) stalledMs += late
  lastTick = now
}

/**
 * The process's stall so far (ms), the gap under way included: compare two readings to
 * get the stall between them. The first reading starts the clock (an unref'd interval:
 * it keeps no process alive).
 */
export function loopStalledMs(): number {
  const now = performance.now()
  if (ticker === undefined) {
    lastTick = now
    ticker = setInterval(tick, TICK_MS).unref()
    return 0
  }
  const late = now - lastTick - TICK_MS
  return late > TOLERANCE_MS ? stalledMs + late : stalledMs
}
