// Pure: CALLBACK_RATE_LIMITS read from its text, `<origin>=<n>/s,…,*=<n>/s` (also /m, /h). The
// rate and origin syntax it shares with the destinations file live in lib/ (rate.ts, http-url.ts).
import { originOfSetting } from '../lib/http-url.ts'
import { MAX_PER_SECOND, parseRate } from '../lib/rate.ts'
import type { RateLimits } from './types.ts'

export const NO_RATE_LIMITS: RateLimits = { byOrigin: new Map(), otherwise: undefined }

const ENTRY = /^(\*|[a-z][a-z0-9+.-]*:\/\/[^\s=,]+)=([^\s=,]+)$/i

/** Parses the setting, or says what is wrong with it (one entry named). */
export function parseRateLimits(text: string): RateLimits | { problem: string } {
  const byOrigin = new Map<string, number>()
  let otherwise: number | undefined
  for (const raw of text.split(',')) {
    const entry = raw.trim()
    if (entry === '') continue
    const match = ENTRY.exec(entry)
    const perSecond = parseRate(match?.[2] ?? '')
    if (!match || perSecond === undefined) return { problem: `"${entry}" is not <origin>=<n>/s (e.g. https://api.example.com=50/s or *=2000/s)` }
    if (perSecond === 'out of range') return { problem: `"${entry}": the rate must be above 0 and at most ${MAX_PER_SECOND}/s` }
    const target = match[1] ?? ''
    if (target === '*') {
      otherwise = perSecond
      continue
    }
    const origin = originOfSetting(target)
    if (origin === undefined) return { problem: `"${entry}": ${target} is not an http(s) origin (scheme://host[:port], no path)` }
    if (byOrigin.has(origin)) return { problem: `"${entry}": ${origin} is listed twice` }
    byOrigin.set(origin, perSecond)
  }
  return { byOrigin, otherwise }
}

export { originOfSetting, parseRate }
