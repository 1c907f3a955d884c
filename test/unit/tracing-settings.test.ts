// OTEL_* variables: when tracing is on, where spans go, and one-line errors for malformed values.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { ConfigError } from '../../src/errors.ts'
import { tracingSettings } from '../../src/tracing-settings.ts'

describe('tracing settings', () => {
  it('unset: no SDK, traceparent/tracestate still propagated', () => {
    assert.deepEqual(tracingSettings({}), { propagators: ['tracecontext'], export: undefined })
    assert.deepEqual(loadConfig({}).tracing, { propagators: ['tracecontext'], export: undefined })
  })

  it('blank values count as unset', () => {
    assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ', OTEL_TRACES_SAMPLER: '' }).export, undefined)
  })

  it('an endpoint turns it on, with the specification defaults', () => {
    const on = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).export
    assert.deepEqual(on, {
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: undefined,
      compression: undefined,
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      serviceName: 'notification-service',
      resourceAttributes: {},
      batch: { scheduledDelayMillis: undefined, exportTimeoutMillis: undefined, maxQueueSize: undefined, maxExportBatchSize: undefined },
    })
  })

  it('OTEL_EXPORTER_OTLP_ENDPOINT gets v1/traces appended once; the traces endpoint is used as given and wins', () => {
    assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example/base/' }).export?.url, 'https://otel.example/base/v1/traces')
    const both = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' })
    assert.equal(both.export?.url, 'http://b:9999/custom')
  })

  it('OTEL_TRACES_EXPORTER=otlp alone exports to localhost:4318; none, or OTEL_SDK_DISABLED=true, turns it off', () => {
    assert.equal(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' }).export?.url, 'http://localhost:4318/v1/traces')
    assert.equal(tracingSettings({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' }).export, undefined)
    for (const value of ['true', 'TRUE', 'True']) {
      const disabled = tracingSettings({ OTEL_SDK_DISABLED: value, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' })
      assert.equal(disabled.export, undefined)
      assert.deepEqual(disabled.propagators, ['tracecontext'])
    }
    assert.ok(tracingSettings({ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' }).export)
  })

  it('protocol, headers, timeout and compression: traces-specific variables win', () => {
    const on = tracingSettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-general=1',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=s%3Dcret, x-team = notifications',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
    }).export
    assert.equal(on?.protocol, 'http/json')
    assert.deepEqual(on?.headers, { 'api-key': 's=cret', 'x-team': 'notifications' })
    assert.equal(on?.timeoutMs, 2500)
    assert.equal(on?.compression, 'gzip')
  })

  it('samplers and their ratio; the argument of another sampler is ignored, as the specification says', () => {
    const ratio = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).export
    assert.equal(ratio?.sampler, 'parentbased_traceidratio')
    assert.equal(ratio?.samplerRatio, 0.25)
    const on = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: 'whatever' }).export
    assert.equal(on?.samplerRatio, 1)
  })

  it('service name: OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else notification-service', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' }
    const attributes = 'service.name=from-attributes,deployment.environment.name=prod%20eu'
    assert.equal(tracingSettings({ ...endpoint, OTEL_RESOURCE_ATTRIBUTES: attributes }).export?.serviceName, 'from-attributes')
    const named = tracingSettings({ ...endpoint, OTEL_RESOURCE_ATTRIBUTES: attributes, OTEL_SERVICE_NAME: 'notifier-eu' }).export
    assert.equal(named?.serviceName, 'notifier-eu')
    assert.deepEqual(named?.resourceAttributes, { 'service.name': 'from-attributes', 'deployment.environment.name': 'prod eu' })
  })

  it('OTEL_PROPAGATORS: tracecontext, baggage, or none', () => {
    assert.deepEqual(tracingSettings({ OTEL_PROPAGATORS: 'tracecontext,baggage' }).propagators, ['tracecontext', 'baggage'])
    assert.deepEqual(tracingSettings({ OTEL_PROPAGATORS: 'baggage' }).propagators, ['baggage'])
    assert.deepEqual(tracingSettings({ OTEL_PROPAGATORS: 'none' }).propagators, [])
  })

  it('batch span processor settings', () => {
    const on = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_BSP_SCHEDULE_DELAY: '0', OTEL_BSP_MAX_QUEUE_SIZE: '8192', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024', OTEL_BSP_EXPORT_TIMEOUT: '1000' }).export
    assert.deepEqual(on?.batch, { scheduledDelayMillis: 0, exportTimeoutMillis: 1000, maxQueueSize: 8192, maxExportBatchSize: 1024 })
  })

  const malformed: Array<[Record<string, string>, string, RegExp]> = [
    [{ OTEL_SDK_DISABLED: 'yes please' }, 'OTEL_SDK_DISABLED', /must be true or false, got "yes please"/],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER', /must be otlp or none, got "zipkin"/],
    [{ OTEL_TRACES_EXPORTER: 'otlp,console' }, 'OTEL_TRACES_EXPORTER', /must be otlp or none/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /must be an http:\/\/ or https:\/\/ URL/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', /must be an http:\/\/ or https:\/\/ URL/],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL', /grpc is not supported here: use http\/protobuf or http\/json/],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'thrift' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', /must be one of http\/protobuf, http\/json, got "thrift"/],
    [{ OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }, 'OTEL_EXPORTER_OTLP_TIMEOUT', /must be an integer of at least 1, got "10s"/],
    [{ OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' }, 'OTEL_EXPORTER_OTLP_COMPRESSION', /must be one of gzip, none/],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER', /must be one of always_on, always_off, traceidratio/],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG', /must be a number from 0 to 1/],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' }, 'OTEL_TRACES_SAMPLER_ARG', /got "half"/],
    [{ OTEL_PROPAGATORS: 'tracecontext,b3' }, 'OTEL_PROPAGATORS', /"b3" is not supported here/],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'team=notifications,broken' }, 'OTEL_RESOURCE_ATTRIBUTES', /must be key=value pairs/],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'team=%E0%A4%A' }, 'OTEL_RESOURCE_ATTRIBUTES', /not valid percent-encoding/],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: '0' }, 'OTEL_BSP_MAX_QUEUE_SIZE', /at least 1/],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: '100' }, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', /must not exceed OTEL_BSP_MAX_QUEUE_SIZE \(100\)/],
  ]
  for (const [env, variable, problem] of malformed) {
    it(`${JSON.stringify(env)}: one-line ConfigError naming ${variable}`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError)
          assert.equal(error.variable, variable)
          assert.ok(error.message.startsWith(`${variable}: `), error.message)
          assert.match(error.message, problem)
          assert.ok(!/[\r\n]/.test(error.message))
          return true
        },
      )
    })
  }

  it('a malformed header does not repeat its value (it may be an API key)', () => {
    assert.throws(
      () => tracingSettings({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization Bearer s3cret-token' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'OTEL_EXPORTER_OTLP_HEADERS' && !error.message.includes('s3cret'),
    )
  })
})
