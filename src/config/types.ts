// The shape of the configuration every part of the service receives: typed, frozen, built
// once at start by load.ts from the environment (schema.ts says which variables, and how
// each is read).
import type { DestinationSet } from '../destinations/policy.ts'
import type { TopicNames } from '../names.ts'
import type { TracingSettings } from '../tracing-settings.ts'

export const MODES = ['DEV', 'TEST', 'PROD'] as const
export type Mode = (typeof MODES)[number]

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const KafkaSecurityProtocols = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const
type KafkaSecurityProtocol = (typeof KafkaSecurityProtocols)[number]
export const SaslMechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const
type SaslMechanism = (typeof SaslMechanisms)[number]

/** TLS material read from the files named in the settings (PEM). */
interface TlsFiles {
  readonly ca: Buffer | undefined
  readonly cert: Buffer | undefined
  readonly key: Buffer | undefined
}

export interface KafkaSettings {
  readonly brokers: readonly string[]
  readonly groupId: string
  readonly clientId: string
  readonly topics: TopicNames
  readonly security: {
    readonly protocol: KafkaSecurityProtocol
    /** Set for SASL_PLAINTEXT and SASL_SSL. */
    readonly sasl: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string } | undefined
    /** Set for SSL and SASL_SSL (every field may be undefined: the system's CAs, no client certificate). */
    readonly tls: TlsFiles | undefined
  }
  /** How topics this service creates are laid out (src/kafka/topics.ts). */
  readonly topicLayout: TopicLayout
  /** Static membership (group.instance.id): a restarted replica gets its partitions back at once. */
  readonly groupInstanceId: string | undefined
}

/** How topics this service creates are laid out. */
export interface TopicLayout {
  readonly partitions: number
  /** Undefined: 3, or the number of brokers when fewer. */
  readonly replicationFactor: number | undefined
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
  /** CALLBACK_DESTINATIONS_FILE as read at start (src/destinations/registry.ts re-reads it); undefined without the variable. */
  readonly destinations: DestinationSet | undefined
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
