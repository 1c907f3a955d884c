// The shape of CALLBACK_DESTINATIONS_FILE (zod), strict: a field this schema does not know is
// refused, so a misspelt `max_conections` cannot be silently ignored. Checks that need the
// disk (TLS files) or the whole list (duplicate origins) are file.ts's. Messages never
// repeat a value: values may be secrets resolved from references.
import { z } from 'zod'
import { parseRate } from '../lib/rate.ts'
import { parseHttpUrl } from '../lib/http-url.ts'

const text = z.string({ error: 'must be a string' }).min(1, 'must not be empty')

function integer(min: number, max: number) {
  return z.number({ error: `must be an integer from ${min} to ${max}` }).int(`must be an integer from ${min} to ${max}`).min(min, `must be an integer from ${min} to ${max}`).max(max, `must be an integer from ${min} to ${max}`)
}

/** Sends per second, from `50/s`, `/m` or `/h` (as one rate of CALLBACK_RATE_LIMITS). */
const rate = z.string({ error: 'must be a rate such as 50/s, 600/m or 1000/h' }).transform((value, ctx) => {
  const perSecond = parseRate(value)
  if (typeof perSecond === 'number') return perSecond
  ctx.addIssue({ code: 'custom', message: perSecond === undefined ? 'must be a rate such as 50/s, 600/m or 1000/h' : 'must be above 0 and at most 1000000/s' })
  return z.NEVER
})

/** What undici sends as a header value: no control characters but tab (CR, LF and NUL would split or end the header), Latin-1 only. */
export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
const HEADER_VALUE_RULE = 'must not hold control characters (CR, LF, NUL…) or characters beyond Latin-1'
const headerValue = z.string({ error: 'must be a string' }).regex(HEADER_VALUE, HEADER_VALUE_RULE)

const tokenUrl = text.refine((value) => {
  const url = parseHttpUrl(value)
  return url !== undefined && url.username === '' && url.password === ''
}, 'must be an http:// or https:// URL without credentials in it')

const oauth2 = z.strictObject({
  token_url: tokenUrl,
  client_id: text,
  client_secret: text,
  scope: text.optional(),
  audience: text.optional(),
  client_auth: z.enum(['client_secret_basic', 'client_secret_post'], { error: 'must be client_secret_basic or client_secret_post' }).default('client_secret_basic'),
})

const AUTH_KINDS = ['bearer', 'basic', 'oauth2_client_credentials'] as const

const auth = z
  .strictObject({
    bearer: text.regex(HEADER_VALUE, HEADER_VALUE_RULE).optional(),
    basic: z
      .strictObject({
        username: text.refine((value) => !value.includes(':'), 'must not contain ":" (RFC 7617)'),
        password: z.string({ error: 'must be a string' }),
      })
      .optional(),
    oauth2_client_credentials: oauth2.optional(),
  })
  .superRefine((value, ctx) => {
    const given = AUTH_KINDS.filter((kind) => value[kind] !== undefined)
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `give one of ${AUTH_KINDS.join(', ')}${given.length > 1 ? ', not two' : ''}` })
  })

const tls = z.strictObject({ ca_file: text.optional(), cert_file: text.optional(), key_file: text.optional() }).superRefine((value, ctx) => {
  if (value.cert_file !== undefined && value.key_file === undefined) ctx.addIssue({ code: 'custom', path: ['key_file'], message: 'is required with cert_file (mutual TLS needs a certificate and its key)' })
  if (value.key_file !== undefined && value.cert_file === undefined) ctx.addIssue({ code: 'custom', path: ['cert_file'], message: 'is required with key_file (mutual TLS needs a certificate and its key)' })
  if (value.ca_file === undefined && value.cert_file === undefined && value.key_file === undefined) ctx.addIssue({ code: 'custom', message: 'give ca_file, or cert_file and key_file, or all three' })
})

export const destinationEntrySchema = z.strictObject(
  {
  origin: text,
  headers: z.record(z.string(), headerValue, { error: 'must be a map of header names to values' }).optional(),
  auth: auth.optional(),
  tls: tls.optional(),
  timeout_ms: integer(100, 600_000).optional(),
  rate_limit: rate.optional(),
  max_connections: integer(1, 4096).optional(),
  },
  { error: 'must be a map (origin, headers, auth, tls, timeout_ms, rate_limit, max_connections)' },
)

export type DestinationEntry = z.infer<typeof destinationEntrySchema>

export const destinationsFileSchema = z.strictObject(
  { destinations: z.array(z.unknown(), { error: 'must be a list of destinations' }) },
  { error: 'must be a map with a "destinations" list' },
)
