// The OpenTelemetry SDK, when tracing is configured: a tracer provider with the configured
// sampler, a batch span processor, and the maintained OTLP/HTTP exporter (protobuf or JSON)
// to OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT. Loaded only then (startTelemetry imports it), so
// a service without tracing never loads the SDK. shutdown() flushes what is still queued.
// Nothing is registered globally but the API's diagnostic logger (the SDK's own warnings,
// e.g. an export that failed, go to our log).
import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api'
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources'
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace'
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions'
import { TIMED_OUT, settleWithin } from '../lib/deadline.ts'
import type { Logger } from '../log.ts'
import type { ExportSettings, SamplerName, TracingSettings } from '../tracing-settings.ts'
import { TRACER_NAME, Tracing } from './tracing.ts'

export interface SdkTelemetry {
  readonly tracing: Tracing
  /** Ends the SDK: exports what is queued (within `timeoutMs`), then stops. */
  shutdown(timeoutMs: number): Promise<void>
}

export function startSdk(settings: TracingSettings, exporting: ExportSettings, logger: Logger): SdkTelemetry {
  diag.setLogger(diagnosticsTo(logger), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true })
  const provider = new TracerProvider({
    sampler: sampler(exporting.sampler, exporting.samplerRatio),
    resource: defaultResource().merge(resourceFromAttributes({ ...exporting.resourceAttributes, [ATTR_SERVICE_NAME]: exporting.serviceName })),
    spanProcessors: [new BatchSpanProcessor({ exporter: exporter(exporting), ...definedOnly(exporting.batch) })],
  })
  logger.info({ endpoint: exporting.url, protocol: exporting.protocol, sampler: exporting.sampler, ratio: exporting.samplerRatio, serviceName: exporting.serviceName }, 'tracing: exporting spans')
  return {
    tracing: new Tracing(provider.getTracer(TRACER_NAME), settings.propagators),
    async shutdown(timeoutMs) {
      const ended = await settleWithin(provider.shutdown().then(() => 'done' as const, (error: unknown) => error), timeoutMs)
      if (ended === TIMED_OUT) logger.warn({ timeoutMs }, 'tracing: spans not exported within the shutdown time are dropped')
      else if (ended !== 'done') logger.warn({ error: String(ended) }, 'tracing: the last export failed')
    },
  }
}

function exporter(settings: ExportSettings): SpanExporter {
  const options = {
    url: settings.url,
    ...(Object.keys(settings.headers).length > 0 ? { headers: { ...settings.headers } } : {}),
    ...(settings.timeoutMs === undefined ? {} : { timeoutMillis: settings.timeoutMs }),
    ...(settings.compression === undefined ? {} : { compression: settings.compression as ExporterOptions['compression'] }),
  }
  return settings.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options)
}

type ExporterOptions = NonNullable<ConstructorParameters<typeof JsonExporter>[0]>

function sampler(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler()
    case 'always_off':
      return new AlwaysOffSampler()
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio)
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) })
  }
}

function definedOnly<T extends object>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> }
}

/** The SDK's warnings in our log, one line each (its component loggers pass their name first, the text after). */
function diagnosticsTo(logger: Logger): DiagLogger {
  const log = logger.child({ component: 'opentelemetry' })
  const line = (message: string, args: unknown[]) => [message, ...args.map(String)].join(': ')
  return {
    error: (message, ...args) => log.error(line(message, args)),
    warn: (message, ...args) => log.warn(line(message, args)),
    info: (message, ...args) => log.info(line(message, args)),
    debug: (message, ...args) => log.debug(line(message, args)),
    verbose: (message, ...args) => log.trace(line(message, args)),
  }
}
