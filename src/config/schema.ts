// Which environment variables the service reads, and how each is parsed (parsers.ts) or
// defaulted (defaults.ts: a default is text, read by the same parser as a value given),
// plus the rules across variables. OpenTelemetry's OTEL_* variables are read apart, by
// src/tracing-settings.ts. docs/configuration.md is generated from this schema and
// variables.ts (`npm run docs:config`).
import { z } from 'zod'
import { DEFAULTS, MEMORY_LIMIT_MB_RANGE } from './defaults.ts'
import {
  boolean,
  brokers,
  cidrList,
  durationOrOff,
  fileContents,
  hostPortList,
  integer,
  nonEmpty,
  oneOf,
  proxyUrl,
  rateLimits,
  redisUrl,
  retrySchedule,
  topicName,
  webhookSecrets,
} from './parsers.ts'
import { KafkaSecurityProtocols, LOG_LEVELS, MODES, SaslMechanisms } from './types.ts'

export const environmentSchema = z.object({
  MODE: oneOf(MODES, 'must be DEV, TEST or PROD').prefault(DEFAULTS.MODE),
  KAFKA_BOOTSTRAP_SERVERS: brokers.prefault(DEFAULTS.KAFKA_BOOTSTRAP_SERVERS),
  KAFKA_GROUP_ID: nonEmpty.prefault(DEFAULTS.KAFKA_GROUP_ID),
  KAFKA_TOPIC_FOR_SENDING: topicName.prefault(DEFAULTS.KAFKA_TOPIC_FOR_SENDING),
  KAFKA_TOPIC_FOR_AI_HANDLER: topicName.prefault(DEFAULTS.KAFKA_TOPIC_FOR_AI_HANDLER),
  KAFKA_TOPIC_DLQ: topicName.prefault(DEFAULTS.KAFKA_TOPIC_DLQ),
  KAFKA_TOPIC_FOR_NOTIFICATIONS: topicName.prefault(DEFAULTS.KAFKA_TOPIC_FOR_NOTIFICATIONS),
  REDIS_HOST: nonEmpty.prefault(DEFAULTS.REDIS_HOST),
  REDIS_PORT: integer(1, 65535).prefault(DEFAULTS.REDIS_PORT),
  REDIS_URL: redisUrl.optional(),
  STORAGE_TIME_PROCESSED_MESSAGES: integer(1, 10 * 365 * 86400).prefault(DEFAULTS.STORAGE_TIME_PROCESSED_MESSAGES),
  CALLBACK_TIMEOUT_MS: integer(100, 600_000).prefault(DEFAULTS.CALLBACK_TIMEOUT_MS),
  RETRY_SCHEDULE: retrySchedule.prefault(DEFAULTS.RETRY_SCHEDULE),
  WEBHOOK_SECRET: webhookSecrets.optional(),
  CALLBACK_ALLOWED_NETWORKS: cidrList.default([]),
  CALLBACK_PROXY_URL: proxyUrl.optional(),
  CALLBACK_RATE_LIMITS: rateLimits.optional(),
  CALLBACK_AUTO_PAUSE_AFTER: durationOrOff.prefault(DEFAULTS.CALLBACK_AUTO_PAUSE_AFTER),
  CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: integer(1, 4096).prefault(DEFAULTS.CALLBACK_MAX_CONNECTIONS_PER_ORIGIN),
  // A path only: the file is read and checked by src/destinations/file.ts (load.ts calls it).
  CALLBACK_DESTINATIONS_FILE: nonEmpty.optional(),
  NOTIFY_ON_ACCEPTED: boolean.prefault(DEFAULTS.NOTIFY_ON_ACCEPTED),
  HTTP_PORT: integer(0, 65535).prefault(DEFAULTS.HTTP_PORT),
  ADMIN_TOKEN: nonEmpty.min(16, 'must be at least 16 characters').optional(),
  LOG_DIR: nonEmpty.prefault(DEFAULTS.LOG_DIR),
  LOG_LEVEL: oneOf(LOG_LEVELS).optional(),
  KAFKA_SECURITY_PROTOCOL: oneOf(KafkaSecurityProtocols).prefault(DEFAULTS.KAFKA_SECURITY_PROTOCOL),
  KAFKA_SASL_MECHANISM: oneOf(SaslMechanisms).optional(),
  KAFKA_SASL_USERNAME: nonEmpty.optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1, 'must not be empty').optional(),
  KAFKA_SSL_CA_FILE: fileContents.optional(),
  KAFKA_SSL_CERT_FILE: fileContents.optional(),
  KAFKA_SSL_KEY_FILE: fileContents.optional(),
  KAFKA_TOPIC_PARTITIONS: integer(1, 10_000).prefault(DEFAULTS.KAFKA_TOPIC_PARTITIONS),
  KAFKA_TOPIC_REPLICATION_FACTOR: integer(1, 32).optional(),
  KAFKA_GROUP_INSTANCE_ID: nonEmpty.regex(/^[A-Za-z0-9._-]{1,200}$/, 'may hold letters, digits, ".", "_" and "-" only').optional(),
  REDIS_TLS_CA_FILE: fileContents.optional(),
  REDIS_SENTINELS: hostPortList.optional(),
  REDIS_SENTINEL_MASTER: nonEmpty.optional(),
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  MEMORY_LIMIT_MB: integer(MEMORY_LIMIT_MB_RANGE.min, MEMORY_LIMIT_MB_RANGE.max).optional(),
})
export type Environment = z.infer<typeof environmentSchema>
export type VariableName = keyof Environment

/** The variables of the schema, in its order. */
export const VARIABLE_NAMES = Object.keys(environmentSchema.shape) as VariableName[]

const SASL_VARIABLES = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const
const TLS_FILE_VARIABLES = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const

type Problem = { variable: string; problem: string } | undefined

/** Rules across variables; the first broken one is reported like a malformed value. */
export function crossFieldProblem(e: Environment): Problem {
  return kafkaSecurityProblem(e) ?? redisTopologyProblem(e)
}

function kafkaSecurityProblem(e: Environment): Problem {
  const protocol = e.KAFKA_SECURITY_PROTOCOL
  const sasl = protocol.startsWith('SASL_')
  for (const variable of SASL_VARIABLES) {
    if (sasl && e[variable] === undefined) return { variable, problem: `is required with KAFKA_SECURITY_PROTOCOL=${protocol}` }
    if (!sasl && e[variable] !== undefined) return { variable, problem: `is set but KAFKA_SECURITY_PROTOCOL is ${protocol} (use SASL_SSL or SASL_PLAINTEXT)` }
  }
  if (!protocol.endsWith('SSL')) {
    for (const variable of TLS_FILE_VARIABLES) {
      if (e[variable] !== undefined) return { variable, problem: `is set but KAFKA_SECURITY_PROTOCOL is ${protocol} (use SSL or SASL_SSL)` }
    }
  }
  if ((e.KAFKA_SSL_CERT_FILE === undefined) !== (e.KAFKA_SSL_KEY_FILE === undefined)) {
    return { variable: e.KAFKA_SSL_CERT_FILE ? 'KAFKA_SSL_KEY_FILE' : 'KAFKA_SSL_CERT_FILE', problem: 'is required with the other (mutual TLS needs a certificate and its key)' }
  }
  return undefined
}

function redisTopologyProblem(e: Environment): Problem {
  if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES) return { variable: 'REDIS_CLUSTER_NODES', problem: 'cannot be set together with REDIS_SENTINELS' }
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) return { variable: 'REDIS_SENTINEL_MASTER', problem: 'is required with REDIS_SENTINELS (the master name the sentinels monitor)' }
  if (e.REDIS_SENTINEL_MASTER && !e.REDIS_SENTINELS) return { variable: 'REDIS_SENTINELS', problem: 'is required with REDIS_SENTINEL_MASTER' }
  return undefined
}
