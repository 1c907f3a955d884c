// A real OTLP/HTTP trace receiver for integration tests: a plain node:http server at
// /v1/traces, as a collector listens on 4318. It decodes the JSON protocol (http/json)
// into flat spans and keeps protobuf bodies (http/protobuf) as they came.
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitForMatches } from './wait-for-matches.ts'

type AttributeValue = string | number | boolean | undefined

export interface ReceivedSpan {
  traceId: string
  spanId: string
  /** Empty for a root span. */
  parentSpanId: string
  name: string
  /** OTLP SpanKind: 3 client, 5 consumer. */
  kind: number
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string | undefined }
  attributes: Record<string, AttributeValue>
  resource: Record<string, AttributeValue>
}

export interface ExportRequest {
  path: string
  contentType: string | undefined
  body: Buffer
}

export interface OtlpReceiver {
  /** http://127.0.0.1:<port> (OTEL_EXPORTER_OTLP_ENDPOINT); traces go to `${url}/v1/traces`. */
  readonly url: string
  readonly requests: ExportRequest[]
  readonly spans: ReceivedSpan[]
  /** Resolves with the spans of `traceId` once `count` of them arrived; rejects after `timeoutMs`. */
  waitForTrace(traceId: string, count: number, timeoutMs?: number): Promise<ReceivedSpan[]>
  close(): Promise<void>
}

interface OtlpKeyValue {
  key: string
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean }
}

interface OtlpJson {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] }
    scopeSpans?: Array<{
      spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; status?: { code?: number; message?: string }; attributes?: OtlpKeyValue[] }>
    }>
  }>
}

function attributes(list: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  const result: Record<string, AttributeValue> = {}
  for (const { key, value } of list ?? []) {
    result[key] = value.stringValue ?? (value.intValue === undefined ? undefined : Number(value.intValue)) ?? value.doubleValue ?? value.boolValue
  }
  return result
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const requests: ExportRequest[] = []
  const spans: ReceivedSpan[] = []
  const waiters = new Set<() => void>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const contentType = req.headers['content-type']
      requests.push({ path: req.url ?? '/', contentType, body })
      if (contentType?.startsWith('application/json')) {
        const json = JSON.parse(body.toString('utf8')) as OtlpJson
        for (const resourceSpans of json.resourceSpans ?? []) {
          const resource = attributes(resourceSpans.resource?.attributes)
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              spans.push({
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? '',
                name: span.name,
                kind: span.kind,
                status: { code: span.status?.code ?? 0, message: span.status?.message },
                attributes: attributes(span.attributes),
                resource,
              })
            }
          }
        }
      }
      for (const waiter of [...waiters]) waiter()
      // An empty ExportTraceServiceResponse in the request's encoding (protobuf: zero bytes).
      const json = contentType?.startsWith('application/json') ?? false
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' })
      res.end(json ? '{}' : '')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans,
    waitForTrace(traceId, count, timeoutMs = 20_000) {
      return waitForMatches(spans, waiters, count, timeoutMs, (span) => span.traceId === traceId, (found) => `OTLP receiver: ${found} of ${count} spans of trace ${traceId} after ${timeoutMs} ms`)
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
