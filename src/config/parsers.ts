// Pure: how the text of one environment variable becomes a value (zod schemas). Each says
// what is wrong in a message that follows the variable's name: "REDIS_PORT: must be an
// integer from 1 to 65535, got "abc"". File contents (certificates) are read here, once.
import { readFileSync } from 'node:fs'
import { BlockList, isIP } from 'node:net'
import { z } from 'zod'
import { describeError } from '../errors.ts'
import { parseDuration } from '../lib/duration.ts'
import { parseRateLimits } from './rate-limits.ts'
import type { HostPort, ProxySettings, RateLimits } from './types.ts'

export const nonEmpty = z.string().trim().min(1, 'must not be empty')
export const topicName = nonEmpty.regex(/^[A-Za-z0-9._-]{1,249}$/, 'is not a valid Kafka topic name')

export function integer(min: number, max: number) {
  return nonEmpty.transform((text, ctx) => {
    const value = Number(text)
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${text}"` })
      return z.NEVER
    }
    return value
  })
}

/** One of a fixed list, e.g. z.enum(LOG_LEVELS): the message lists them. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, message = `must be one of ${values.join(', ')}`) {
  return z.enum(values, { message })
}

export const boolean = nonEmpty.transform((text, ctx) => {
  const lower = text.toLowerCase()
  if (['true', '1', 'yes'].includes(lower)) return true
  if (['false', '0', 'no'].includes(lower)) return false
  ctx.addIssue({ code: 'custom', message: `must be true or false, got "${text}"` })
  return z.NEVER
})

/** A comma-separated list; the first entry `read` cannot make a value of is reported with `problem(entry)`. */
function listOf<T>(read: (entry: string) => T | undefined, problem: (entry: string) => string) {
  return nonEmpty.transform((text, ctx) => {
    const list: T[] = []
    for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
      const value = read(entry)
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: problem(entry) })
        return z.NEVER
      }
      list.push(value)
    }
    return list
  })
}

export const brokers = listOf((entry) => (/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(entry) ? entry : undefined), (entry) => `"${entry}" is not host:port`)

export const hostPortList = listOf((entry): HostPort | undefined => {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry)
  const port = Number(match?.[2])
  return !match || port < 1 || port > 65535 ? undefined : { host: match[1]!.replace(/^\[|\]$/g, ''), port }
}, (entry) => `"${entry}" is not host:port`)

export const cidrList = listOf((cidr) => (isValidCidr(cidr) ? cidr : undefined), (cidr) => `"${cidr}" is not a CIDR such as 127.0.0.0/8 or fd00::/8`)

function isValidCidr(cidr: string): boolean {
  const [address, prefixText, extra] = cidr.split('/')
  if (address === undefined || prefixText === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefixText)) return false
  const family = isIP(address)
  const prefix = Number(prefixText)
  if (family === 0 || prefix > (family === 4 ? 32 : 128)) return false
  new BlockList().addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6')
  return true
}

export const retrySchedule = nonEmpty.transform((text, ctx) => {
  const delays: number[] = []
  for (const part of text.split(',')) {
    const ms = parseDuration(part)
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${part.trim()}" is not a positive duration (write e.g. 5s,30s,2m,1h)` })
      return z.NEVER
    }
    delays.push(ms)
  }
  return delays
})

export const webhookSecrets = nonEmpty.transform((text, ctx) => {
  const keys: Buffer[] = []
  for (const secret of text.split(/\s+/)) {
    const base64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret
    const key = Buffer.from(base64, 'base64')
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || key.length < 16 || key.length > 64) {
      ctx.addIssue({ code: 'custom', message: 'must be whsec_ followed by 16 to 64 bytes in base64 (several: separate with spaces)' })
      return z.NEVER
    }
    keys.push(key)
  }
  return keys
})

/** A path to a readable file, read once here (certificates, keys). */
export const fileContents = nonEmpty.transform((path, ctx) => {
  try {
    return readFileSync(path)
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? describeError(error)}` })
    return z.NEVER
  }
})

const PROXY_URL_FORM = 'must be http://[user:password@]host:port'

export const proxyUrl = nonEmpty.transform((text, ctx): ProxySettings => {
  const url = URL.parse(text) ?? undefined
  if (url?.protocol === 'https:') {
    ctx.addIssue({ code: 'custom', message: `${PROXY_URL_FORM} (https:// proxies are not supported)` })
    return z.NEVER
  }
  // The port must be written: new URL() drops :80, so it is checked on the text.
  const port = url?.port ? Number(url.port) : /:80\/?$/.test(text) ? 80 : 0
  if (url?.protocol !== 'http:' || url.hostname === '' || port === 0 || url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    ctx.addIssue({ code: 'custom', message: PROXY_URL_FORM })
    return z.NEVER
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  }
})

export const rateLimits = nonEmpty.transform((text, ctx): RateLimits => {
  const parsed = parseRateLimits(text)
  if ('problem' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.problem })
    return z.NEVER
  }
  return parsed
})

/** A duration, or "off". */
export const durationOrOff = nonEmpty.transform((text, ctx): number | 'off' => {
  if (text.toLowerCase() === 'off') return 'off'
  const ms = parseDuration(text)
  if (ms === undefined || ms < 1000) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration of at least 1s (e.g. 24h) or "off"` })
    return z.NEVER
  }
  return ms
})

export const redisUrl = nonEmpty.refine((text) => /^rediss?:\/\//.test(text) && URL.canParse(text), 'must be a redis:// or rediss:// URL')
