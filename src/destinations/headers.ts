// Pure: which header names a destination may add. The contract reserves the ones the service
// itself writes (Content-Type, webhook-*, the trace context, X-Error-Notification, and
// Authorization where `auth` sets it); the framing and hop-by-hop headers are refused too,
// since the HTTP client either overrides them or fails the request on them.

/** RFC 9110 token: the characters a field name may hold. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const RESERVED_BY_CONTRACT = new Set(['content-type', 'traceparent', 'tracestate', 'x-error-notification'])
const FRAMING = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect'])

/** What is wrong with this name, or undefined when a destination may set it. */
export function headerNameProblem(name: string, hasAuth: boolean): string | undefined {
  if (!TOKEN.test(name)) return 'is not a valid header name'
  const lower = name.toLowerCase()
  if (RESERVED_BY_CONTRACT.has(lower) || lower.startsWith('webhook-')) return 'is set by the service and cannot be replaced'
  if (hasAuth && lower === 'authorization') return 'is set by auth: remove one of them'
  if (FRAMING.has(lower)) return 'is managed by the HTTP client and cannot be set'
  return undefined
}

/** The headers checked, or the first name with what is wrong with it (names differing only in case are one header). */
export function checkHeaders(headers: Readonly<Record<string, string>>, hasAuth: boolean): { name: string; problem: string } | undefined {
  const seen = new Set<string>()
  for (const name of Object.keys(headers)) {
    const problem = headerNameProblem(name, hasAuth)
    if (problem !== undefined) return { name, problem }
    if (seen.has(name.toLowerCase())) return { name, problem: 'is given twice (header names ignore case)' }
    seen.add(name.toLowerCase())
  }
  return undefined
}
