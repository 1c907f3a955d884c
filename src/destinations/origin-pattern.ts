// Pure: the `origin` of a destination as written in CALLBACK_DESTINATIONS_FILE, normalised to
// the one spelling match.ts looks up: an exact origin as URL.origin gives it (lowercase host,
// default port dropped), a wildcard host "https://*.acme.example[:port]", or "*".
import { originOfSetting } from '../lib/http-url.ts'

export const ANY_ORIGIN = '*'
/** What a wildcard host starts with: one or more labels, then this. */
export const WILDCARD_PREFIX = '*.'

const FORM = 'must be an origin (scheme://host[:port], no path), a wildcard host such as https://*.acme.example, or "*"'

/** The normalised pattern, or what is wrong with it. */
export function normaliseOriginPattern(text: string): { pattern: string } | { problem: string } {
  const trimmed = text.trim()
  if (trimmed === ANY_ORIGIN) return { pattern: ANY_ORIGIN }
  // WHATWG URL accepts "*" in a host name, so a wildcard normalises like an exact origin.
  const origin = originOfSetting(trimmed)
  if (origin === undefined) return { problem: FORM }
  const host = hostOf(origin)
  if (!host.includes('*')) return { pattern: origin }
  const suffix = host.slice(WILDCARD_PREFIX.length)
  if (!host.startsWith(WILDCARD_PREFIX) || suffix.includes('*') || suffix === '' || suffix.startsWith('.')) {
    return { problem: 'a wildcard must be the whole first label of the host (https://*.acme.example)' }
  }
  return { pattern: origin }
}

/** "https://a.b.example:8443" → "a.b.example" (IPv6 hosts keep their brackets). */
export function hostOf(origin: string): string {
  const afterScheme = origin.slice(origin.indexOf('://') + 3)
  const portColon = afterScheme.lastIndexOf(':')
  return portColon === -1 || afterScheme.endsWith(']') ? afterScheme : afterScheme.slice(0, portColon)
}
