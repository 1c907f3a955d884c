// Pure: one rate as settings write it, `<n>/s` (also /m, /h): CALLBACK_RATE_LIMITS entries
// and a destination's rate_limit.
const RATE = /^(\d+(?:\.\d+)?)\/(s|m|h)$/i
const PER_UNIT_S = { s: 1, m: 60, h: 3600 } as const
export const MAX_PER_SECOND = 1_000_000

/** One rate, `<n>/s` (also /m, /h), in sends per second; undefined when not of that form, 'out of range' when not above 0 and at most 1000000/s. */
export function parseRate(text: string): number | 'out of range' | undefined {
  const match = RATE.exec(text.trim())
  if (!match) return undefined
  const [, amount = '', unit = 's'] = match
  const perSecond = Number(amount) / PER_UNIT_S[unit.toLowerCase() as keyof typeof PER_UNIT_S]
  return perSecond > 0 && perSecond <= MAX_PER_SECOND ? perSecond : 'out of range'
}

