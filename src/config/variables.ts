// What each environment variable means, for people: the source of docs/configuration.md
// (`npm run docs:config` writes it; a unit test fails when the file differs). The type
// requires an entry for every variable the schema (schema.ts) and the tracing settings
// (src/tracing-settings.ts) read, and allows no other; defaults come from defaults.ts.
import { DEFAULT_SERVICE_NAME, PROPAGATORS, PROTOCOLS, SAMPLERS, type TracingVariable } from '../tracing-settings.ts'
import { INPUT_TOPICS } from '../names.ts'
import { MEMORY_LIMIT_MB_RANGE } from './defaults.ts'
import type { VariableName } from './schema.ts'
import { KafkaSecurityProtocols, LOG_LEVELS, MODES, SaslMechanisms } from './types.ts'

export const GROUPS = ['Kafka', 'Kafka security', 'Redis', 'Callbacks', 'Memory', 'Operations', 'Tracing'] as const

/** A sentence or two above a group's table, where the variables work together. */
export const GROUP_INTROS: Readonly<Partial<Record<(typeof GROUPS)[number], string>>> = {
  Kafka: 'Missing topics are created at start; retry topics are named after the group and the delay (`notification_service.retry.5s`).',
  Redis: 'One server (`REDIS_URL`, else `REDIS_HOST` and `REDIS_PORT`), a Sentinel set, or a Cluster.',
  Tracing:
    "OpenTelemetry's standard variables. Tracing is on only when an endpoint is set (or `OTEL_TRACES_EXPORTER=otlp`) and `OTEL_SDK_DISABLED` is not `true`; " +
    'unset, there is no SDK and an incoming `traceparent`/`tracestate` is still forwarded to the callback and the outcome record. ' +
    'Other `OTEL_EXPORTER_OTLP_*` settings (client certificates, CA) are read by the exporter itself.',
}

export interface VariableDoc {
  readonly group: (typeof GROUPS)[number]
  /** What it does. */
  readonly meaning: string
  /** The values accepted (format or list). */
  readonly allowed: string
  /** Shown when the variable has no default value in defaults.ts (e.g. "unset", "from MODE"). */
  readonly whenUnset?: string
}

const list = (values: readonly string[]) => values.map((value) => `\`${value}\``).join(', ')
const carries = (variable: string) => {
  const row = INPUT_TOPICS.find((topic) => topic.variable === variable)
  return row === undefined ? '' : ` of ${row.carries}, under Kafka key \`${row.key}\` (records under other keys are other services', skipped)`
}

export const VARIABLE_DOCS: Readonly<Record<VariableName | TracingVariable, VariableDoc>> = {
  MODE: { group: 'Operations', meaning: 'Sets the default `LOG_LEVEL`: info in DEV and PROD, warn in TEST.', allowed: list(MODES) },
  KAFKA_BOOTSTRAP_SERVERS: { group: 'Kafka', meaning: 'The brokers to connect to.', allowed: 'comma-separated `host:port`' },
  KAFKA_GROUP_ID: { group: 'Kafka', meaning: 'The consumer group; replicas share it. The retry tiers and origin state in Redis are named after it.', allowed: 'any non-empty text' },
  KAFKA_TOPIC_FOR_SENDING: { group: 'Kafka', meaning: `Input topic${carries('KAFKA_TOPIC_FOR_SENDING')}.`, allowed: 'a Kafka topic name' },
  KAFKA_TOPIC_FOR_AI_HANDLER: { group: 'Kafka', meaning: `Input topic${carries('KAFKA_TOPIC_FOR_AI_HANDLER')}.`, allowed: 'a Kafka topic name' },
  KAFKA_TOPIC_DLQ: { group: 'Kafka', meaning: 'Dead letters: poison records and notifications given up, with the reason; kept 30 days, replayed with `npm run replay`.', allowed: 'a Kafka topic name' },
  KAFKA_TOPIC_FOR_NOTIFICATIONS: { group: 'Kafka', meaning: 'Outcomes: one record per notification delivered or given up, and origin events (`origin_paused`).', allowed: 'a Kafka topic name' },
  KAFKA_TOPIC_PARTITIONS: { group: 'Kafka', meaning: 'Partitions of the topics this service creates when they are missing (existing topics are not changed).', allowed: 'an integer from 1 to 10000' },
  KAFKA_TOPIC_REPLICATION_FACTOR: {
    group: 'Kafka',
    meaning: 'Replicas of the topics this service creates (with `min.insync.replicas=2` from 3 replicas); existing topics with fewer are reported at start.',
    allowed: 'an integer from 1 to 32',
    whenUnset: '3, or the number of brokers when fewer',
  },
  KAFKA_GROUP_INSTANCE_ID: {
    group: 'Kafka',
    meaning: 'Static group membership: a stable id per replica (e.g. the pod name), so a restarted replica gets its partitions back at once.',
    allowed: 'letters, digits, `.`, `_` and `-`',
    whenUnset: 'unset (dynamic membership)',
  },
  KAFKA_SECURITY_PROTOCOL: { group: 'Kafka security', meaning: 'How to talk to the brokers: TLS, SASL, both or neither.', allowed: list(KafkaSecurityProtocols) },
  KAFKA_SASL_MECHANISM: { group: 'Kafka security', meaning: 'SASL mechanism; required with `SASL_*` protocols, refused otherwise.', allowed: list(SaslMechanisms), whenUnset: 'unset' },
  KAFKA_SASL_USERNAME: { group: 'Kafka security', meaning: 'SASL user; required with `SASL_*` protocols.', allowed: 'any non-empty text', whenUnset: 'unset' },
  KAFKA_SASL_PASSWORD: { group: 'Kafka security', meaning: 'SASL password; required with `SASL_*` protocols.', allowed: 'any non-empty text', whenUnset: 'unset' },
  KAFKA_SSL_CA_FILE: { group: 'Kafka security', meaning: "The CA of the brokers' certificates, with `SSL` or `SASL_SSL`.", allowed: 'a readable PEM file', whenUnset: "unset (the system's CAs)" },
  KAFKA_SSL_CERT_FILE: { group: 'Kafka security', meaning: 'Client certificate for mutual TLS; set together with `KAFKA_SSL_KEY_FILE`.', allowed: 'a readable PEM file', whenUnset: 'unset' },
  KAFKA_SSL_KEY_FILE: { group: 'Kafka security', meaning: "The client certificate's key; set together with `KAFKA_SSL_CERT_FILE`.", allowed: 'a readable PEM file', whenUnset: 'unset' },
  REDIS_HOST: { group: 'Redis', meaning: 'Redis host, when `REDIS_URL` is unset.', allowed: 'a host name or address' },
  REDIS_PORT: { group: 'Redis', meaning: 'Redis port, when `REDIS_URL` is unset.', allowed: 'an integer from 1 to 65535' },
  REDIS_URL: {
    group: 'Redis',
    meaning: 'Redis as a URL; wins over host and port. `rediss://` for TLS; user and password (ACL) and db are used with Sentinel and Cluster too.',
    allowed: '`redis://[user:password@]host:port[/db]` or `rediss://…`',
    whenUnset: 'unset',
  },
  REDIS_TLS_CA_FILE: { group: 'Redis', meaning: 'The CA of a private Redis certificate (turns TLS on).', allowed: 'a readable PEM file', whenUnset: 'unset' },
  REDIS_SENTINELS: { group: 'Redis', meaning: 'Sentinel addresses; with `REDIS_SENTINEL_MASTER`.', allowed: 'comma-separated `host:port`', whenUnset: 'unset' },
  REDIS_SENTINEL_MASTER: { group: 'Redis', meaning: 'The master name the sentinels monitor; with `REDIS_SENTINELS`.', allowed: 'any non-empty text', whenUnset: 'unset' },
  REDIS_CLUSTER_NODES: { group: 'Redis', meaning: 'Redis Cluster seed nodes; not together with `REDIS_SENTINELS`.', allowed: 'comma-separated `host:port`', whenUnset: 'unset' },
  STORAGE_TIME_PROCESSED_MESSAGES: { group: 'Callbacks', meaning: 'Seconds the "sent" marker `processed_messages:{processing_id}` is kept (three days).', allowed: 'an integer from 1 to 315360000' },
  CALLBACK_TIMEOUT_MS: { group: 'Callbacks', meaning: 'Total time of one callback attempt, in milliseconds.', allowed: 'an integer from 100 to 600000' },
  RETRY_SCHEDULE: {
    group: 'Callbacks',
    meaning:
      'The delay before each retry; its length is the number of retries. ±20 % jitter is added. One retry topic per distinct delay. ' +
      'A longer wait (the 60 s after a 429 or a timeout, a `Retry-After`, an open circuit) waits in the shortest topic whose delay covers it; ' +
      'one longer than the longest delay is cut to it, so with a short schedule (say `1s,2s,4s`) nothing waits more than ~4 s between looks.',
    allowed: 'comma-separated durations (`ms`, `s`, `m`, `h`, `d`; a bare number is seconds)',
  },
  WEBHOOK_SECRET: {
    group: 'Callbacks',
    meaning: 'Standard Webhooks signing secret(s); several, separated by spaces, each sign every request (rotation).',
    allowed: '`whsec_` and 16 to 64 bytes in base64',
    whenUnset: 'unset (no signature)',
  },
  CALLBACK_ALLOWED_NETWORKS: { group: 'Callbacks', meaning: 'Networks exempt from the private-address block (e.g. `127.0.0.0/8` for local work).', allowed: 'comma-separated CIDRs', whenUnset: 'none' },
  CALLBACK_PROXY_URL: {
    group: 'Callbacks',
    meaning: 'An HTTP CONNECT proxy callbacks leave through (a fixed source IP); targets are still resolved and checked here, and the proxy is asked for the checked address.',
    allowed: '`http://[user:password@]host:port`',
    whenUnset: 'unset (direct)',
  },
  CALLBACK_RATE_LIMITS: {
    group: 'Callbacks',
    meaning: 'The most sends per second to a callback origin, for the whole consumer group; `*` is every other origin.',
    allowed: '`<origin>=<n>/s,…,*=<n>/s` (also `/m`, `/h`)',
    whenUnset: 'unset (no limit)',
  },
  CALLBACK_AUTO_PAUSE_AFTER: {
    group: 'Callbacks',
    meaning: 'An origin whose circuit stays open this long is paused and an `origin_paused` event goes to the outcomes topic; resume it with `POST /admin/origins/resume` or the dashboard.',
    allowed: 'a duration of at least `1s`, or `off` (never)',
  },
  CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: {
    group: 'Callbacks',
    meaning: `The most requests (HTTP/1.1: connections) in flight to one callback origin. Each origin's limit adapts below it: it starts at 32, grows while the origin answers well and shrinks on timeouts, 429 and 5xx.`,
    allowed: 'an integer from 1 to 4096',
  },
  CALLBACK_DESTINATIONS_FILE: {
    group: 'Callbacks',
    meaning:
      "Per callback origin (exact, wildcard host `https://*.acme.example`, or `*`): headers, credentials (bearer, basic, OAuth2 client credentials), TLS (a private CA, a client certificate) and this group's limits, overriding the variables above for its origins. " +
      '`${env:NAME}` and `${file:/path}` in values are read at load. Read at start (a bad file stops the service), again when it changes and on `SIGHUP` (a bad file is refused, the previous one stays). See docs/destinations.md.',
    allowed: 'a path to a YAML (or JSON) file',
    whenUnset: 'unset (every origin on the variables above)',
  },
  NOTIFY_ON_ACCEPTED: { group: 'Callbacks', meaning: 'Also send an "accepted" notification when a ProcessingRequest arrives.', allowed: '`true`/`false` (also `1`/`0`, `yes`/`no`)' },
  MEMORY_LIMIT_MB: {
    group: 'Memory',
    meaning: "The memory this replica may use; sizes the heap flags (`node src/node-flags.ts`) and what is held in flight.",
    allowed: `an integer from ${MEMORY_LIMIT_MB_RANGE.min} to ${MEMORY_LIMIT_MB_RANGE.max}`,
    whenUnset: "the container's limit (cgroups), else none",
  },
  HTTP_PORT: { group: 'Operations', meaning: 'Port of health, readiness, metrics, the admin API and the dashboard (`0`: any free port).', allowed: 'an integer from 0 to 65535' },
  ADMIN_TOKEN: {
    group: 'Operations',
    meaning: 'Bearer token for the dashboard, the admin API and `GET /notifications/{id}`.',
    allowed: 'at least 16 characters',
    whenUnset: 'unset (those endpoints are off)',
  },
  LOG_DIR: { group: 'Operations', meaning: 'Directory of `notification_service.log`, rotated daily.', allowed: 'a directory path' },
  LOG_LEVEL: { group: 'Operations', meaning: 'The least severe level logged.', allowed: list(LOG_LEVELS), whenUnset: 'from `MODE`' },
  OTEL_EXPORTER_OTLP_ENDPOINT: { group: 'Tracing', meaning: 'Collector base URL; spans go to `<it>/v1/traces`. Setting this (or the next) turns tracing on.', allowed: 'an `http://` or `https://` URL', whenUnset: 'unset (no spans exported)' },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: { group: 'Tracing', meaning: 'The full traces URL, used as given; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`.', allowed: 'an `http://` or `https://` URL', whenUnset: 'unset' },
  OTEL_TRACES_EXPORTER: { group: 'Tracing', meaning: '`otlp` set explicitly without an endpoint exports to `http://localhost:4318/v1/traces`.', allowed: '`otlp`, `none`', whenUnset: '`otlp`' },
  OTEL_SDK_DISABLED: { group: 'Tracing', meaning: '`true`: no SDK whatever else is set (an incoming `traceparent` is still forwarded).', allowed: '`true`, `false`', whenUnset: '`false`' },
  OTEL_EXPORTER_OTLP_PROTOCOL: { group: 'Tracing', meaning: 'OTLP encoding; `grpc` is refused (only the OTLP/HTTP exporters ship).', allowed: list(PROTOCOLS), whenUnset: '`http/protobuf`' },
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: { group: 'Tracing', meaning: 'As `OTEL_EXPORTER_OTLP_PROTOCOL`, for traces; wins over it.', allowed: list(PROTOCOLS), whenUnset: 'unset' },
  OTEL_EXPORTER_OTLP_HEADERS: { group: 'Tracing', meaning: 'Headers sent with every export (e.g. a hosted backend\'s API key).', allowed: '`key=value,…`, values percent-encoded', whenUnset: 'none' },
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: { group: 'Tracing', meaning: 'As `OTEL_EXPORTER_OTLP_HEADERS`, for traces; wins over it.', allowed: '`key=value,…`', whenUnset: 'unset' },
  OTEL_EXPORTER_OTLP_TIMEOUT: { group: 'Tracing', meaning: 'Time limit of one export, in milliseconds.', allowed: 'an integer of at least 1', whenUnset: '10000' },
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: { group: 'Tracing', meaning: 'As `OTEL_EXPORTER_OTLP_TIMEOUT`, for traces; wins over it.', allowed: 'an integer of at least 1', whenUnset: 'unset' },
  OTEL_EXPORTER_OTLP_COMPRESSION: { group: 'Tracing', meaning: 'Compression of exports.', allowed: '`gzip`, `none`', whenUnset: 'none' },
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: { group: 'Tracing', meaning: 'As `OTEL_EXPORTER_OTLP_COMPRESSION`, for traces; wins over it.', allowed: '`gzip`, `none`', whenUnset: 'unset' },
  OTEL_SERVICE_NAME: { group: 'Tracing', meaning: 'The resource\'s `service.name` (else the one in `OTEL_RESOURCE_ATTRIBUTES`).', allowed: 'any text', whenUnset: `\`${DEFAULT_SERVICE_NAME}\`` },
  OTEL_RESOURCE_ATTRIBUTES: { group: 'Tracing', meaning: 'Attributes of the resource, e.g. `deployment.environment.name=prod`.', allowed: '`key=value,…`, values percent-encoded', whenUnset: 'none' },
  OTEL_TRACES_SAMPLER: {
    group: 'Tracing',
    meaning: 'Which traces are recorded. Parent-based: a result whose trace was not sampled upstream is not recorded here either.',
    allowed: list(SAMPLERS),
    whenUnset: '`parentbased_always_on`',
  },
  OTEL_TRACES_SAMPLER_ARG: { group: 'Tracing', meaning: 'The ratio of the `*traceidratio` samplers (ignored by the others).', allowed: 'a number from 0 to 1', whenUnset: '1' },
  OTEL_PROPAGATORS: {
    group: 'Tracing',
    meaning: 'Which W3C headers are read from records and written to callbacks. Baggage is off unless named (callbacks go to clients\' servers).',
    allowed: `${list(PROPAGATORS)}, or \`none\``,
    whenUnset: '`tracecontext`',
  },
  OTEL_BSP_SCHEDULE_DELAY: { group: 'Tracing', meaning: 'Milliseconds between exports of the batch span processor.', allowed: 'an integer of at least 0', whenUnset: '5000' },
  OTEL_BSP_EXPORT_TIMEOUT: { group: 'Tracing', meaning: 'Time limit of one batch export, in milliseconds.', allowed: 'an integer of at least 1', whenUnset: '30000' },
  OTEL_BSP_MAX_QUEUE_SIZE: { group: 'Tracing', meaning: 'Spans queued at most; spans beyond a full queue are dropped.', allowed: 'an integer of at least 1', whenUnset: '2048' },
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: { group: 'Tracing', meaning: 'Spans per export; at most `OTEL_BSP_MAX_QUEUE_SIZE`.', allowed: 'an integer of at least 1', whenUnset: '512' },
}
