// Configuration: read once at start from the environment (and `.env` where present),
// validated as a whole; the first problem stops the service with one line naming the
// variable. Everything else in the service receives a typed, frozen `Config`.
import { existsSync, readFileSync } from 'node:fs'
import { BlockList, isIP } from 'node:net'
import { z } from 'zod'
import { ConfigError, describeError } from './errors.ts'
import { parseDuration } from './lib/duration.ts'
import { tracingSettings, type TracingSettings } from './tracing-settings.ts'

export const DEFAULT_RETRY_SCHEDULE = '5s,30s,2m,10m,30m,1h,3h,6h,12h'
/**
 * CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: the most attempts (HTTP/1.1: connections) one origin's
 * adaptive limit may reach. At 50 ms an answer, 256 allow ~5,000/s (Little's law: 2,000/s
 * needs 100 in flight), a quarter of one consumer loop's 1,000 records.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_ORIGIN = 256

export const Modes = { DEV: 'DEV', TEST: 'TEST', PROD: 'PROD' } as const
export type Mode = (typeof Modes)[keyof typeof Modes]

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const KafkaSecurityProtocols = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const
export type KafkaSecurityProtocol = (typeof KafkaSecurityProtocols)[number]
export const SaslMechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const
export type SaslMechanism = (typeof SaslMechanisms)[number]

/** TLS material read from the files named in the settings (PEM). */
export interface TlsFiles {
  readonly ca: Buffer | undefined
  readonly cert: Buffer | undefined
  readonly key: Buffer | undefined
}

export interface KafkaSettings {
  readonly brokers: readonly string[]
  readonly groupId: string
  readonly clientId: string
  readonly topics: {
    readonly sending: string
    readonly aiHandler: string
    readonly deadLetter: string
    readonly outcomes: string
  }
  readonly security: {
    readonly protocol: KafkaSecurityProtocol
    /** Set for SASL_PLAINTEXT and SASL_SSL. */
    readonly sasl: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string } | undefined
    /** Set for SSL and SASL_SSL (every field may be undefined: the system's CAs, no client certificate). */
    readonly tls: TlsFiles | undefined
  }
  /** How topics this service creates are laid out. */
  readonly topicLayout: {
    readonly partitions: number
    /** Undefined: 3, or the number of brokers when fewer. */
    readonly replicationFactor: number | undefined
  }
  /** Static membership (group.instance.id): a restarted replica gets its partitions back at once. */
  readonly groupInstanceId: string | undefined
}

export interface HostPort {
  readonly host: string
  readonly port: number
}

/** Where Redis is: one server (REDIS_URL or REDIS_HOST/PORT), a Sentinel set, or a Cluster. */
export type RedisSettings = {
  /** User and password (ACL) for the data nodes; from REDIS_URL. */
  readonly username: string | undefined
  readonly password: string | undefined
  /** TLS to the data nodes: rediss:// or REDIS_TLS_CA_FILE. */
  readonly tls: { readonly ca: Buffer | undefined } | undefined
} & (
  | { readonly mode: 'standalone'; readonly url: string }
  | { readonly mode: 'sentinel'; readonly sentinels: readonly HostPort[]; readonly masterName: string; readonly db: number }
  | { readonly mode: 'cluster'; readonly nodes: readonly HostPort[] }
)

/** CALLBACK_RATE_LIMITS: the most sends per second each callback origin gets from the whole group. */
export interface RateLimits {
  /** Per origin ("scheme://host[:port]", as URL.origin writes it): notifications per second. */
  readonly byOrigin: ReadonlyMap<string, number>
  /** `*`: every origin not named; undefined = no limit for them. */
  readonly otherwise: number | undefined
}

export const NO_RATE_LIMITS: RateLimits = { byOrigin: new Map(), otherwise: undefined }

/** An HTTP proxy callbacks go through (CONNECT tunnels); credentials from its URL. */
export interface ProxySettings extends HostPort {
  readonly username: string | undefined
  readonly password: string | undefined
}

export interface Config {
  readonly mode: Mode
  readonly kafka: KafkaSettings
  readonly redis: RedisSettings
  /** MEMORY_LIMIT_MB when set; otherwise the container's limit is read at start. */
  readonly memoryLimitMb: number | undefined
  readonly processedTtlSeconds: number
  readonly callbackTimeoutMs: number
  /** Delay before each retry, in ms: its length is the number of retries after the first attempt. */
  readonly retryScheduleMs: readonly number[]
  /** Raw HMAC keys decoded from WEBHOOK_SECRET; each signs every request (rotation). */
  readonly webhookSecrets: readonly Buffer[]
  /** CIDRs exempt from the private-address block. */
  readonly allowedNetworks: readonly string[]
  /** CALLBACK_PROXY_URL: callbacks leave through this proxy (the address guard still judges the target). */
  readonly callbackProxy: ProxySettings | undefined
  /** CALLBACK_RATE_LIMITS: sends per second per origin, for the whole consumer group. */
  readonly rateLimits: RateLimits
  /** CALLBACK_AUTO_PAUSE_AFTER: an origin whose circuit stays open this long is paused; undefined = never ("off"). */
  readonly autoPauseAfterMs: number | undefined
  /** CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: the cap of each origin's adaptive concurrency limit. */
  readonly maxConnectionsPerOrigin: number
  readonly notifyOnAccepted: boolean
  readonly httpPort: number
  readonly adminToken: string | undefined
  readonly logDir: string
  readonly logLevel: LogLevel
  /** OpenTelemetry's OTEL_* variables: what is propagated, and whether (and where) spans are exported. */
  readonly tracing: TracingSettings
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
  /**
   * Per fetch of a consumer loop: bytes in all (the client's default, 50 MB, would pull a whole
   * backlog into memory at once) and per partition; records buffered by its stream.
   */
  readonly fetchMaxBytes: number
  readonly fetchMaxBytesPerPartition: number
  readonly streamHighWaterMark: number
}

export const DEFAULT_TUNING: Tuning = {
  maxInFlight: 1000,
  maxInFlightBytes: 32 * 1024 * 1024,
  commitIntervalMs: 200,
  maxResponseBytes: 64 * 1024,
  shutdownGraceMs: 20_000,
  infrastructureRetryMs: 1000,
  inputFetchMinBytes: 64 * 1024,
  inputFetchMaxWaitMs: 10,
  fetchMaxBytes: 2 * 1024 * 1024,
  fetchMaxBytesPerPartition: 256 * 1024,
  streamHighWaterMark: 512,
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

const hostPortList = nonEmpty.transform((text, ctx) => {
  const list: HostPort[] = []
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry)
    const port = Number(match?.[2])
    if (!match || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not host:port` })
      return z.NEVER
    }
    list.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port })
  }
  return list
})

/** A path to a readable file, read once here (certificates, keys). */
const fileContents = nonEmpty.transform((path, ctx) => {
  try {
    return readFileSync(path)
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? describeError(error)}` })
    return z.NEVER
  }
})

const PROXY_URL_FORM = 'must be http://[user:password@]host:port'

const proxyUrl = nonEmpty.transform((text, ctx): ProxySettings => {
  const url = URL.canParse(text) ? new URL(text) : undefined
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

const ENTRY = /^(\*|[a-z][a-z0-9+.-]*:\/\/[^\s=,]+)=(\d+(?:\.\d+)?)\/(s|m|h)$/i
const PER_UNIT_S = { s: 1, m: 60, h: 3600 } as const

/** Parses the setting, or says what is wrong with it (one entry named). */
function parseRateLimits(text: string): RateLimits | { problem: string } {
  const byOrigin = new Map<string, number>()
  let otherwise: number | undefined
  for (const raw of text.split(',')) {
    const entry = raw.trim()
    if (entry === '') continue
    const match = ENTRY.exec(entry)
    if (!match) return { problem: `"${entry}" is not <origin>=<n>/s (e.g. https://api.example.com=50/s or *=2000/s)` }
    const [, target = '', amount = '', unit = 's'] = match
    const perSecond = Number(amount) / PER_UNIT_S[unit.toLowerCase() as keyof typeof PER_UNIT_S]
    if (!(perSecond > 0) || perSecond > 1_000_000) return { problem: `"${entry}": the rate must be above 0 and at most 1000000/s` }
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
  const url = URL.parse(text)
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return undefined
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') return undefined
  return url.origin
}

const rateLimits = nonEmpty.transform((text, ctx): RateLimits => {
  const parsed = parseRateLimits(text)
  if ('problem' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.problem })
    return z.NEVER
  }
  return parsed
})

/** A duration, or "off". */
const durationOrOff = nonEmpty.transform((text, ctx): number | 'off' => {
  if (text.toLowerCase() === 'off') return 'off'
  const ms = parseDuration(text)
  if (ms === undefined || ms < 1000) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration of at least 1s (e.g. 24h) or "off"` })
    return z.NEVER
  }
  return ms
})

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
  CALLBACK_PROXY_URL: proxyUrl.optional(),
  CALLBACK_RATE_LIMITS: rateLimits.optional(),
  CALLBACK_AUTO_PAUSE_AFTER: durationOrOff.default(24 * 3_600_000),
  CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: integer(1, 4096).default(DEFAULT_MAX_CONNECTIONS_PER_ORIGIN),
  NOTIFY_ON_ACCEPTED: boolean.default(false),
  HTTP_PORT: integer(0, 65535).default(8004),
  ADMIN_TOKEN: nonEmpty.min(16, 'must be at least 16 characters').optional(),
  LOG_DIR: nonEmpty.default('logs'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  KAFKA_SECURITY_PROTOCOL: z.enum(KafkaSecurityProtocols, { message: `must be one of ${KafkaSecurityProtocols.join(', ')}` }).default('PLAINTEXT'),
  KAFKA_SASL_MECHANISM: z.enum(SaslMechanisms, { message: `must be one of ${SaslMechanisms.join(', ')}` }).optional(),
  KAFKA_SASL_USERNAME: nonEmpty.optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1, 'must not be empty').optional(),
  KAFKA_SSL_CA_FILE: fileContents.optional(),
  KAFKA_SSL_CERT_FILE: fileContents.optional(),
  KAFKA_SSL_KEY_FILE: fileContents.optional(),
  KAFKA_TOPIC_PARTITIONS: integer(1, 10_000).default(6),
  KAFKA_TOPIC_REPLICATION_FACTOR: integer(1, 32).optional(),
  KAFKA_GROUP_INSTANCE_ID: nonEmpty.regex(/^[A-Za-z0-9._-]{1,200}$/, 'may hold letters, digits, ".", "_" and "-" only').optional(),
  REDIS_TLS_CA_FILE: fileContents.optional(),
  REDIS_SENTINELS: hostPortList.optional(),
  REDIS_SENTINEL_MASTER: nonEmpty.optional(),
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  MEMORY_LIMIT_MB: integer(64, 1024 * 1024).optional(),
})
type Environment = z.infer<typeof environmentSchema>

/** Rules across variables; the first broken one is reported like a malformed value. */
function crossFieldProblem(e: Environment): { variable: string; problem: string } | undefined {
  const saslProtocol = e.KAFKA_SECURITY_PROTOCOL.startsWith('SASL_')
  const tlsProtocol = e.KAFKA_SECURITY_PROTOCOL.endsWith('SSL')
  if (saslProtocol) {
    for (const variable of ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (e[variable] === undefined) return { variable, problem: `is required with KAFKA_SECURITY_PROTOCOL=${e.KAFKA_SECURITY_PROTOCOL}` }
    }
  } else {
    for (const variable of ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (e[variable] !== undefined) return { variable, problem: `is set but KAFKA_SECURITY_PROTOCOL is ${e.KAFKA_SECURITY_PROTOCOL} (use SASL_SSL or SASL_PLAINTEXT)` }
    }
  }
  if (!tlsProtocol) {
    for (const variable of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const) {
      if (e[variable] !== undefined) return { variable, problem: `is set but KAFKA_SECURITY_PROTOCOL is ${e.KAFKA_SECURITY_PROTOCOL} (use SSL or SASL_SSL)` }
    }
  }
  if ((e.KAFKA_SSL_CERT_FILE === undefined) !== (e.KAFKA_SSL_KEY_FILE === undefined)) {
    return { variable: e.KAFKA_SSL_CERT_FILE ? 'KAFKA_SSL_KEY_FILE' : 'KAFKA_SSL_CERT_FILE', problem: 'is required with the other (mutual TLS needs a certificate and its key)' }
  }
  if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES) return { variable: 'REDIS_CLUSTER_NODES', problem: 'cannot be set together with REDIS_SENTINELS' }
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) return { variable: 'REDIS_SENTINEL_MASTER', problem: 'is required with REDIS_SENTINELS (the master name the sentinels monitor)' }
  if (e.REDIS_SENTINEL_MASTER && !e.REDIS_SENTINELS) return { variable: 'REDIS_SENTINELS', problem: 'is required with REDIS_SENTINEL_MASTER' }
  return undefined
}

function redisSettings(e: Environment): RedisSettings {
  const url = e.REDIS_URL === undefined ? undefined : new URL(e.REDIS_URL)
  const credentials = {
    username: url?.username ? decodeURIComponent(url.username) : undefined,
    password: url?.password ? decodeURIComponent(url.password) : undefined,
    tls: url?.protocol === 'rediss:' || e.REDIS_TLS_CA_FILE !== undefined ? { ca: e.REDIS_TLS_CA_FILE } : undefined,
  }
  if (e.REDIS_SENTINELS && e.REDIS_SENTINEL_MASTER) {
    return { ...credentials, mode: 'sentinel', sentinels: e.REDIS_SENTINELS, masterName: e.REDIS_SENTINEL_MASTER, db: Number(url?.pathname.slice(1) || 0) }
  }
  if (e.REDIS_CLUSTER_NODES) return { ...credentials, mode: 'cluster', nodes: e.REDIS_CLUSTER_NODES }
  return { ...credentials, mode: 'standalone', url: e.REDIS_URL ?? `redis://${e.REDIS_HOST.includes(':') ? `[${e.REDIS_HOST}]` : e.REDIS_HOST}:${e.REDIS_PORT}` }
}

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
  const broken = crossFieldProblem(e)
  if (broken) throw new ConfigError(broken.variable, broken.problem)
  const tracing = tracingSettings(env)
  const protocol = e.KAFKA_SECURITY_PROTOCOL
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
      security: {
        protocol,
        sasl:
          e.KAFKA_SASL_MECHANISM && e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD
            ? { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD }
            : undefined,
        tls: protocol.endsWith('SSL') ? { ca: e.KAFKA_SSL_CA_FILE, cert: e.KAFKA_SSL_CERT_FILE, key: e.KAFKA_SSL_KEY_FILE } : undefined,
      },
      topicLayout: { partitions: e.KAFKA_TOPIC_PARTITIONS, replicationFactor: e.KAFKA_TOPIC_REPLICATION_FACTOR },
      groupInstanceId: e.KAFKA_GROUP_INSTANCE_ID,
    },
    redis: redisSettings(e),
    memoryLimitMb: e.MEMORY_LIMIT_MB,
    processedTtlSeconds: e.STORAGE_TIME_PROCESSED_MESSAGES,
    callbackTimeoutMs: e.CALLBACK_TIMEOUT_MS,
    retryScheduleMs: e.RETRY_SCHEDULE,
    webhookSecrets: e.WEBHOOK_SECRET ?? [],
    allowedNetworks: e.CALLBACK_ALLOWED_NETWORKS,
    callbackProxy: e.CALLBACK_PROXY_URL,
    rateLimits: e.CALLBACK_RATE_LIMITS ?? NO_RATE_LIMITS,
    autoPauseAfterMs: e.CALLBACK_AUTO_PAUSE_AFTER === 'off' ? undefined : e.CALLBACK_AUTO_PAUSE_AFTER,
    maxConnectionsPerOrigin: e.CALLBACK_MAX_CONNECTIONS_PER_ORIGIN,
    notifyOnAccepted: e.NOTIFY_ON_ACCEPTED,
    httpPort: e.HTTP_PORT,
    adminToken: e.ADMIN_TOKEN,
    logDir: e.LOG_DIR,
    logLevel: e.LOG_LEVEL ?? DEFAULT_LOG_LEVEL[e.MODE],
    tracing,
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
