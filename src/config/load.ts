// Configuration: read once at start from the environment (and `.env` where present),
// validated as a whole; the first problem stops the service with one line naming the
// variable (exit 78). Everything else in the service receives a typed, frozen `Config`.
import { readDestinationsFile } from '../destinations/file.ts'
import { LOCAL_SOURCES } from '../destinations/references.ts'
import { ConfigError, describeError } from '../errors.ts'
import { INPUT_TOPICS } from '../names.ts'
import { tracingSettings } from '../tracing-settings.ts'
import { DEFAULT_LOG_LEVEL, DEFAULT_TUNING } from './defaults.ts'
import { loadDotEnv } from './dotenv.ts'
import { NO_RATE_LIMITS } from './rate-limits.ts'
import { crossFieldProblem, environmentSchema, VARIABLE_NAMES, type Environment } from './schema.ts'
import type { Config, KafkaSettings, RedisSettings, Tuning } from './types.ts'

/** Exit code of a wrong setting (EX_CONFIG), contract §4. */
export const EXIT_CONFIG = 78

/**
 * Builds the configuration from environment variables. Empty values count as unset.
 * Throws a ConfigError naming the first variable that is wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv, tuning: Partial<Tuning> = {}): Config {
  const e = parseEnvironment(env)
  const tracing = tracingSettings(env)
  return Object.freeze({
    mode: e.MODE,
    kafka: kafkaSettings(e),
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
    // Its ${env:…} references read the same environment as the variables.
    destinations: e.CALLBACK_DESTINATIONS_FILE === undefined ? undefined : readDestinationsFile(e.CALLBACK_DESTINATIONS_FILE, { sources: { ...LOCAL_SOURCES, env } }),
    notifyOnAccepted: e.NOTIFY_ON_ACCEPTED,
    httpPort: e.HTTP_PORT,
    adminToken: e.ADMIN_TOKEN,
    logDir: e.LOG_DIR,
    logLevel: e.LOG_LEVEL ?? DEFAULT_LOG_LEVEL[e.MODE],
    tracing,
    tuning: { ...DEFAULT_TUNING, ...tuning },
  })
}

/** The schema's variables that are set (not empty), parsed; the first wrong one thrown as a ConfigError. */
function parseEnvironment(env: NodeJS.ProcessEnv): Environment {
  const present: Record<string, string> = {}
  for (const key of VARIABLE_NAMES) {
    const value = env[key]
    if (value !== undefined && value.trim() !== '') present[key] = value
  }
  const parsed = environmentSchema.safeParse(present)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const variable = String(issue?.path[0] ?? 'environment')
    throw new ConfigError(variable, issue?.message ?? 'is invalid')
  }
  const broken = crossFieldProblem(parsed.data)
  if (broken) throw new ConfigError(broken.variable, broken.problem)
  return parsed.data
}

function kafkaSettings(e: Environment): KafkaSettings {
  const protocol = e.KAFKA_SECURITY_PROTOCOL
  return {
    brokers: e.KAFKA_BOOTSTRAP_SERVERS,
    groupId: e.KAFKA_GROUP_ID,
    clientId: `notification-service-${process.pid}`,
    topics: {
      input: INPUT_TOPICS.map(({ variable, key }) => ({ name: e[variable], key })),
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
  }
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
