// Configuration: read once at start from the environment (and `.env` where present),
// validated as a whole; the first problem stops the service with one line naming the
// variable. Everything else in the service receives a typed, frozen `Config`.
import { existsSync } from 'node:fs'
import { BlockList, isIP } from 'node:net'
import { z } from 'zod'
import { ConfigError, describeError } from './errors.ts'
import { parseDuration } from './lib/duration.ts'

export const DEFAULT_RETRY_SCHEDULE = '5s,30s,2m,10m,30m,1h,3h,6h,12h'

export const Modes = { DEV: 'DEV', TEST: 'TEST', PROD: 'PROD' } as const
export type Mode = (typeof Modes)[keyof typeof Modes]

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface Config {
  readonly mode: Mode
  readonly kafka: {
    readonly brokers: readonly string[]
    readonly groupId: string
    readonly clientId: string
    readonly topics: {
      readonly sending: string
      readonly aiHandler: string
      readonly deadLetter: string
      readonly outcomes: string
    }
  }
  readonly redisUrl: string
  readonly processedTtlSeconds: number
  readonly callbackTimeoutMs: number
  /** Delay before each retry, in ms: its length is the number of retries after the first attempt. */
  readonly retryScheduleMs: readonly number[]
  /** Raw HMAC keys decoded from WEBHOOK_SECRET; each signs every request (rotation). */
  readonly webhookSecrets: readonly Buffer[]
  /** CIDRs exempt from the private-address block. */
  readonly allowedNetworks: readonly string[]
  readonly notifyOnAccepted: boolean
  readonly httpPort: number
  readonly adminToken: string | undefined
  readonly logDir: string
  readonly logLevel: LogLevel
  readonly tuning: Tuning
}

/** Knobs with safe defaults that are not part of the contract's environment. */
export interface Tuning {
  /** Messages handled at once by one consumer loop (backpressure above this). */
  readonly maxInFlight: number
  /**
   * Bytes of record values handled at once by one consumer loop (backpressure above this,
   * one record always admitted): with results of up to 1 MiB, 1000 in flight could hold a GB.
   */
  readonly maxInFlightBytes: number
  /** Open connections per callback origin. */
  readonly connectionsPerOrigin: number
  /** How often finished offsets are committed. */
  readonly commitIntervalMs: number
  /** Largest response body read from a client before the connection is dropped. */
  readonly maxResponseBytes: number
  /** Grace period for in-flight work on SIGTERM before the rest is handed over. */
  readonly shutdownGraceMs: number
  /** Wait before retrying work that failed on Redis or Kafka being unreachable. */
  readonly infrastructureRetryMs: number
  /**
   * Input topics: the broker answers a fetch once this many bytes are ready or
   * `inputFetchMaxWaitMs` has passed. With the client's 1 byte, results arriving one by one
   * cost one fetch round trip each (at 1000/s: ~800 fetches/s, half the service's CPU and
   * the broker's); a wait of a few ms batches them for a few ms of latency.
   */
  readonly inputFetchMinBytes: number
  readonly inputFetchMaxWaitMs: number
}

export const DEFAULT_TUNING: Tuning = {
  maxInFlight: 1000,
  maxInFlightBytes: 32 * 1024 * 1024,
  connectionsPerOrigin: 32,
  commitIntervalMs: 200,
  maxResponseBytes: 64 * 1024,
  shutdownGraceMs: 20_000,
  infrastructureRetryMs: 1000,
  inputFetchMinBytes: 64 * 1024,
  inputFetchMaxWaitMs: 10,
}

const nonEmpty = z.string().trim().min(1, 'must not be empty')
const topicName = nonEmpty.regex(/^[A-Za-z0-9._-]{1,249}$/, 'is not a valid Kafka topic name')

function integer(min: number, max: number) {
  return nonEmpty.transform((text, ctx) => {
    const value = Number(text)
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${text}"` })
      return z.NEVER
    }
    return value
  })
}

const boolean = nonEmpty.transform((text, ctx) => {
  const lower = text.toLowerCase()
  if (['true', '1', 'yes'].includes(lower)) return true
  if (['false', '0', 'no'].includes(lower)) return false
  ctx.addIssue({ code: 'custom', message: `must be true or false, got "${text}"` })
  return z.NEVER
})

const brokers = nonEmpty.transform((text, ctx) => {
  const list = text.split(',').map((entry) => entry.trim()).filter(Boolean)
  for (const entry of list) {
    if (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(entry)) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not host:port` })
      return z.NEVER
    }
  }
  return list
})

const retrySchedule = nonEmpty.transform((text, ctx) => {
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

const webhookSecrets = nonEmpty.transform((text, ctx) => {
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

const cidrList = nonEmpty.transform((text, ctx) => {
  const list = text.split(',').map((entry) => entry.trim()).filter(Boolean)
  for (const cidr of list) {
    if (!isValidCidr(cidr)) {
      ctx.addIssue({ code: 'custom', message: `"${cidr}" is not a CIDR such as 127.0.0.0/8 or fd00::/8` })
      return z.NEVER
    }
  }
  return list
})

function isValidCidr(cidr: string): boolean {
  const [address, prefixText, extra] = cidr.split('/')
  if (address === undefined || prefixText === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefixText)) return false
  const family = isIP(address)
  const prefix = Number(prefixText)
  if (family === 0 || prefix > (family === 4 ? 32 : 128)) return false
  new BlockList().addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6')
  return true
}

const redisUrl = nonEmpty.refine((text) => /^rediss?:\/\//.test(text) && URL.canParse(text), 'must be a redis:// or rediss:// URL')

const environmentSchema = z.object({
  MODE: z.enum(Object.values(Modes), { message: 'must be DEV, TEST or PROD' }).default('DEV'),
  KAFKA_BOOTSTRAP_SERVERS: brokers.default(['127.0.0.1:9092']),
  KAFKA_GROUP_ID: nonEmpty.default('notification_service'),
  KAFKA_TOPIC_FOR_SENDING: topicName.default('sending'),
  KAFKA_TOPIC_FOR_AI_HANDLER: topicName.default('AI_handler'),
  KAFKA_TOPIC_DLQ: topicName.default('notifications.dlq'),
  KAFKA_TOPIC_FOR_NOTIFICATIONS: topicName.default('notifications'),
  REDIS_HOST: nonEmpty.default('127.0.0.1'),
  REDIS_PORT: integer(1, 65535).default(6379),
  REDIS_URL: redisUrl.optional(),
  STORAGE_TIME_PROCESSED_MESSAGES: integer(1, 10 * 365 * 86400).default(259200),
  CALLBACK_TIMEOUT_MS: integer(100, 600_000).default(10000),
  RETRY_SCHEDULE: retrySchedule.default(() => retrySchedule.parse(DEFAULT_RETRY_SCHEDULE)),
  WEBHOOK_SECRET: webhookSecrets.optional(),
  CALLBACK_ALLOWED_NETWORKS: cidrList.default([]),
  NOTIFY_ON_ACCEPTED: boolean.default(false),
  HTTP_PORT: integer(0, 65535).default(8004),
  ADMIN_TOKEN: nonEmpty.min(16, 'must be at least 16 characters').optional(),
  LOG_DIR: nonEmpty.default('logs'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
})

const DEFAULT_LOG_LEVEL: Record<Mode, LogLevel> = { DEV: 'info', TEST: 'warn', PROD: 'info' }

/**
 * Builds the configuration from environment variables. Empty values count as unset.
 * Throws a ConfigError naming the first variable that is wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv, tuning: Partial<Tuning> = {}): Config {
  const present: Record<string, string> = {}
  for (const key of Object.keys(environmentSchema.shape)) {
    const value = env[key]
    if (value !== undefined && value.trim() !== '') present[key] = value
  }
  const parsed = environmentSchema.safeParse(present)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const variable = String(issue?.path[0] ?? 'environment')
    throw new ConfigError(variable, issue?.message ?? 'is invalid')
  }
  const e = parsed.data
  return Object.freeze({
    mode: e.MODE,
    kafka: {
      brokers: e.KAFKA_BOOTSTRAP_SERVERS,
      groupId: e.KAFKA_GROUP_ID,
      clientId: `notification-service-${process.pid}`,
      topics: {
        sending: e.KAFKA_TOPIC_FOR_SENDING,
        aiHandler: e.KAFKA_TOPIC_FOR_AI_HANDLER,
        deadLetter: e.KAFKA_TOPIC_DLQ,
        outcomes: e.KAFKA_TOPIC_FOR_NOTIFICATIONS,
      },
    },
    redisUrl: e.REDIS_URL ?? `redis://${e.REDIS_HOST.includes(':') ? `[${e.REDIS_HOST}]` : e.REDIS_HOST}:${e.REDIS_PORT}`,
    processedTtlSeconds: e.STORAGE_TIME_PROCESSED_MESSAGES,
    callbackTimeoutMs: e.CALLBACK_TIMEOUT_MS,
    retryScheduleMs: e.RETRY_SCHEDULE,
    webhookSecrets: e.WEBHOOK_SECRET ?? [],
    allowedNetworks: e.CALLBACK_ALLOWED_NETWORKS,
    notifyOnAccepted: e.NOTIFY_ON_ACCEPTED,
    httpPort: e.HTTP_PORT,
    adminToken: e.ADMIN_TOKEN,
    logDir: e.LOG_DIR,
    logLevel: e.LOG_LEVEL ?? DEFAULT_LOG_LEVEL[e.MODE],
    tuning: { ...DEFAULT_TUNING, ...tuning },
  })
}

/** Loads `.env` from the working directory without overriding variables already set. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path)
}

/** Exit code of a wrong setting (EX_CONFIG), contract §4. */
export const EXIT_CONFIG = 78

/**
 * The configuration of a process (the service, the replay command): `.env`, then the
 * environment. A wrong setting stops the process here, with one line naming it and exit 78.
 */
export function loadConfigOrExit(): Config {
  try {
    loadDotEnv()
    return loadConfig(process.env)
  } catch (error) {
    const line = error instanceof ConfigError ? `Invalid configuration: ${error.message}` : `Cannot read configuration: ${describeError(error)}`
    process.stderr.write(`${line}\n`)
    process.exit(EXIT_CONFIG)
  }
}
