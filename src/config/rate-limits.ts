// Pure: CALLBACK_RATE_LIMITS read from its text, `<origin>=<n>/s,…,*=<n>/s` (also /m, /h),
// and the one way an origin written in a setting (or typed into the admin API) is normalised.
import { parseHttpUrl } from '../lib/http-url.ts'
import type { RateLimits } from './types.ts'

export const NO_RATE_LIMITS: RateLimits = { byOrigin: new Map(), otherwise: undefined }

const ENTRY = /^(\*|[a-z][a-z0-9+.-]*:\/\/[^\s=,]+)=([^\s=,]+)$/i
const RATE = /^(\d+(?:\.\d+)?)\/(s|m|h)$/i
const PER_UNIT_S = { s: 1, m: 60, h: 3600 } as const
const MAX_PER_SECOND = 1_000_000

/** One rate, `<n>/s` (also /m, /h), in sends per second; undefined when not of that form, 'out of range' when not above 0 and at most 1000000/s. */
export function parseRate(text: string): number | 'out of range' | undefined {
  const match = RATE.exec(text.trim())
  if (!match) return undefined
  const [, amount = '', unit = 's'] = match
  const perSecond = Number(amount) / PER_UNIT_S[unit.toLowerCase() as keyof typeof PER_UNIT_S]
  return perSecond > 0 && perSecond <= MAX_PER_SECOND ? perSecond : 'out of range'
}

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

/** "https://API.example.com:443/" → "https://api.example.com"; undefined when not an http(s) origin. */
export function originOfSetting(text: string): string | undefined {
  const url = parseHttpUrl(text)
  if (url === undefined) return undefined
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') return undefined
  return url.origin
}
