// Pure: OpenTelemetry's standard environment variables, read and validated once at start
// with the rest of the configuration (a malformed one stops the service with exit 78 and
// one line naming it, as every other setting). The meanings are the specification's
// (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables); where this
// service differs, it says so here and in docs/operations.md, "Tracing".
//
// Tracing is on only when an exporter is asked for: OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set, or OTEL_TRACES_EXPORTER=otlp (then to
// http://localhost:4318, the specification's default), and OTEL_SDK_DISABLED is not true.
// Unset, there is no SDK at all: an incoming traceparent is forwarded as received.
import { ConfigError } from './errors.ts'
import { parseHttpUrl } from './lib/http-url.ts'

export const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const
export type SamplerName = (typeof SAMPLERS)[number]

export const PROTOCOLS = ['http/protobuf', 'http/json'] as const
export type OtlpProtocol = (typeof PROTOCOLS)[number]

export const PROPAGATORS = ['tracecontext', 'baggage'] as const
export type PropagatorName = (typeof PROPAGATORS)[number]

/** What the SDK is built from when tracing is on. */
export interface ExportSettings {
  /** Where spans are POSTed: the traces endpoint as given, or `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`. */
  readonly url: string
  readonly protocol: OtlpProtocol
  /** OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, e.g. an API key for a hosted backend. */
  readonly headers: Readonly<Record<string, string>>
  readonly timeoutMs: number | undefined
  readonly compression: 'gzip' | 'none' | undefined
  readonly sampler: SamplerName
  /** The ratio of the *traceidratio samplers (OTEL_TRACES_SAMPLER_ARG, default 1). */
  readonly samplerRatio: number
  readonly serviceName: string
  /** OTEL_RESOURCE_ATTRIBUTES, percent-decoded. */
  readonly resourceAttributes: Readonly<Record<string, string>>
  /** The batch span processor (OTEL_BSP_*); undefined: the SDK's defaults. */
  readonly batch: {
    readonly scheduledDelayMillis: number | undefined
    readonly exportTimeoutMillis: number | undefined
    readonly maxQueueSize: number | undefined
    readonly maxExportBatchSize: number | undefined
  }
}

export interface TracingSettings {
  /** Which W3C headers are read from records and written to callbacks and records (OTEL_PROPAGATORS). */
  readonly propagators: readonly PropagatorName[]
  /** Set when spans are recorded and exported; undefined: no SDK (the no-op API). */
  readonly export: ExportSettings | undefined
}

/** Every variable read here (docs/configuration.md and .env.example list them; a test holds them to it). */
export const TRACING_VARIABLES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_TRACES_EXPORTER',
  'OTEL_SDK_DISABLED',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_PROPAGATORS',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_EXPORT_TIMEOUT',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
] as const
export type TracingVariable = (typeof TRACING_VARIABLES)[number]

export const DEFAULT_SERVICE_NAME = 'notification-service'
const DEFAULT_ENDPOINT = 'http://localhost:4318'

type Env = Readonly<Record<string, string | undefined>>

/** Reads the OTEL_* variables of `env` (empty values count as unset); throws a ConfigError naming the first wrong one. */
export function tracingSettings(env: Env): TracingSettings {
  const read = (name: TracingVariable): string | undefined => {
    const value = env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  /** The traces-specific variable when set, else the general one: [its name, its value]. */
  const either = (suffix: 'PROTOCOL' | 'HEADERS' | 'TIMEOUT' | 'COMPRESSION'): [string, string | undefined] => {
    const specific = `OTEL_EXPORTER_OTLP_TRACES_${suffix}` as const
    const general = `OTEL_EXPORTER_OTLP_${suffix}` as const
    return read(specific) !== undefined ? [specific, read(specific)] : [general, read(general)]
  }

  const propagators = propagatorList(read('OTEL_PROPAGATORS'))
  const disabled = flag('OTEL_SDK_DISABLED', read('OTEL_SDK_DISABLED'))
  const exporter = exporterName(read('OTEL_TRACES_EXPORTER'))
  const url = exportUrl(read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'), read('OTEL_EXPORTER_OTLP_ENDPOINT'))
  const [protocolVariable, protocolText] = either('PROTOCOL')
  const protocol = oneOf(protocolVariable, protocolText ?? 'http/protobuf', PROTOCOLS, protocolText === 'grpc' ? 'grpc is not supported here: use http/protobuf or http/json (port 4318)' : undefined)
  const [headersVariable, headersText] = either('HEADERS')
  const headers = keyValuePairs(headersVariable, headersText)
  const [timeoutVariable, timeoutText] = either('TIMEOUT')
  const timeoutMs = integer(timeoutVariable, timeoutText, 1)
  const [compressionVariable, compressionText] = either('COMPRESSION')
  const compression = compressionText === undefined ? undefined : oneOf(compressionVariable, compressionText, ['gzip', 'none'] as const)
  const sampler = oneOf('OTEL_TRACES_SAMPLER', read('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on', SAMPLERS)
  // The argument only means something to the ratio samplers; the specification says to ignore it otherwise.
  const samplerRatio = sampler.endsWith('traceidratio') ? ratio(read('OTEL_TRACES_SAMPLER_ARG')) : 1
  const resourceAttributes = keyValuePairs('OTEL_RESOURCE_ATTRIBUTES', read('OTEL_RESOURCE_ATTRIBUTES'))
  const serviceName = read('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? DEFAULT_SERVICE_NAME
  const batch = {
    scheduledDelayMillis: integer('OTEL_BSP_SCHEDULE_DELAY', read('OTEL_BSP_SCHEDULE_DELAY'), 0),
    exportTimeoutMillis: integer('OTEL_BSP_EXPORT_TIMEOUT', read('OTEL_BSP_EXPORT_TIMEOUT'), 1),
    maxQueueSize: integer('OTEL_BSP_MAX_QUEUE_SIZE', read('OTEL_BSP_MAX_QUEUE_SIZE'), 1),
    maxExportBatchSize: integer('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'), 1),
  }
  if ((batch.maxExportBatchSize ?? 512) > (batch.maxQueueSize ?? 2048)) {
    throw new ConfigError('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', `must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${batch.maxQueueSize ?? 2048})`)
  }

  const asked = exporter === 'otlp' && (read('OTEL_TRACES_EXPORTER') !== undefined || url !== undefined)
  const on = asked && !disabled
  return {
    propagators,
    export: on
      ? { url: url ?? `${DEFAULT_ENDPOINT}/v1/traces`, protocol, headers, timeoutMs, compression, sampler, samplerRatio, serviceName, resourceAttributes, batch }
      : undefined,
  }
}

/** Default `tracecontext`: W3C baggage is only sent where asked for, since callbacks leave for clients' servers. */
function propagatorList(text: string | undefined): PropagatorName[] {
  if (text === undefined) return ['tracecontext']
  const names = text.split(',').map((name) => name.trim()).filter(Boolean)
  if (names.length === 1 && names[0] === 'none') return []
  const list: PropagatorName[] = []
  for (const name of names) {
    if (!(PROPAGATORS as readonly string[]).includes(name)) {
      throw new ConfigError('OTEL_PROPAGATORS', `"${name}" is not supported here (tracecontext, baggage, or none)`)
    }
    if (!list.includes(name as PropagatorName)) list.push(name as PropagatorName)
  }
  return list
}

function exporterName(text: string | undefined): 'otlp' | 'none' {
  if (text === undefined) return 'otlp'
  const names = [...new Set(text.split(',').map((name) => name.trim()).filter(Boolean))]
  if (names.length === 1 && (names[0] === 'otlp' || names[0] === 'none')) return names[0]
  throw new ConfigError('OTEL_TRACES_EXPORTER', `must be otlp or none, got "${text}"`)
}

/** As the SDK does: the traces endpoint is used as given; the general one gets `v1/traces` appended. */
function exportUrl(traces: string | undefined, general: string | undefined): string | undefined {
  if (traces !== undefined) return httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces)
  if (general === undefined) return undefined
  const base = httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', general)
  return `${base.endsWith('/') ? base : `${base}/`}v1/traces`
}

function httpUrl(variable: string, text: string): string {
  if (parseHttpUrl(text) === undefined) {
    throw new ConfigError(variable, `must be an http:// or https:// URL, got "${text}"`)
  }
  return text
}

function flag(variable: string, text: string | undefined): boolean {
  if (text === undefined) return false
  const lower = text.toLowerCase()
  if (lower === 'true') return true
  if (lower === 'false') return false
  throw new ConfigError(variable, `must be true or false, got "${text}"`)
}

function oneOf<T extends string>(variable: string, text: string, allowed: readonly T[], problem?: string): T {
  if ((allowed as readonly string[]).includes(text)) return text as T
  throw new ConfigError(variable, problem ?? `must be one of ${allowed.join(', ')}, got "${text}"`)
}

function integer(variable: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(variable, `must be an integer of at least ${min}, got "${text}"`)
  }
  return value
}

function ratio(text: string | undefined): number {
  if (text === undefined) return 1
  const value = Number(text)
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text) || value > 1) {
    throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', `must be a number from 0 to 1 with a traceidratio sampler, got "${text}"`)
  }
  return value
}

/** `key1=value1,key2=value2`, values percent-encoded (W3C Baggage's format, as the specification says). */
function keyValuePairs(variable: string, text: string | undefined): Record<string, string> {
  const pairs: Record<string, string> = {}
  if (text === undefined) return pairs
  for (const entry of text.split(',')) {
    if (entry.trim() === '') continue
    const at = entry.indexOf('=')
    const key = at < 0 ? '' : entry.slice(0, at).trim()
    // The value is not repeated: headers may hold an API key.
    if (key === '') throw new ConfigError(variable, 'must be key=value pairs separated by commas')
    let value: string
    try {
      value = decodeURIComponent(entry.slice(at + 1).trim())
    } catch {
      throw new ConfigError(variable, `the value of "${key}" is not valid percent-encoding`)
    }
    pairs[key] = value
  }
  return pairs
}
