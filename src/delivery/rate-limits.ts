// Pure: reading CALLBACK_RATE_LIMITS (parsed in config.ts), the most notifications per second each callback origin gets
// from the whole consumer group ("https://api.client.example=50/s,*=2000/s"). The limit is
// kept in Redis (store/lua/reserve-sends.lua, GCRA): every send takes the next free slot of
// its origin, one interval after the last, whichever replica sends it.

import type { RateLimits } from '../config.ts'
/**
 * A slot at most this far ahead is waited for in-process; a later one in a retry tier,
 * so that one limited origin never holds more than a few of the records in flight.
 */
const IN_PROCESS_SLOTS = 50
const IN_PROCESS_MAX_MS = 1000

/** The limit of one origin, notifications per second; undefined = none. */
export function rateLimitFor(limits: RateLimits, origin: string): number | undefined {
  return limits.byOrigin.get(origin) ?? limits.otherwise
}

/** How far ahead a reserved slot may be and still be waited for in-process. */
export function inProcessWaitMs(perSecond: number): number {
  return Math.min(IN_PROCESS_MAX_MS, (IN_PROCESS_SLOTS * 1000) / perSecond)
}
