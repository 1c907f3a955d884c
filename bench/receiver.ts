// The benchmark's callback receiver, run as its own child process (its CPU is not the
// benchmark's). It listens on 127.0.0.1 (GET /stats) and on 127.0.0.2 … 127.0.0.{1+K} with
// one port, so there are K distinct callback origins (Linux routes all of 127/8 to lo).
// Every POST is answered 200, at once or after BENCH_RECEIVER_LATENCY_MS (a timer per request,
// so a slow answer holds no other), except on the "hanging" origin, which never answers.
// Per request it records the receive time, processing_id and response.sent_at; it reports
// counts and latency (receive time − sent_at) to the parent over IPC.
// --destination (bench/lib/destinations.ts): the origins serve HTTPS (BENCH_TLS_CERT_FILE,
// BENCH_TLS_KEY_FILE); with BENCH_TLS_CLIENT_CA_FILE they demand a client certificate from that
// CA, and with BENCH_TOKEN_CLIENT ("id:secret") a bearer token that 127.0.0.1's POST /token
// issued (OAuth2 client credentials, client_secret_basic): anything else is answered 401.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { FromReceiver, LatencySummary, ReceiverCounts, ReceiverFinal, ResetCommand, ToReceiver } from './lib/receiver-protocol.ts'

const originCount = Number(process.env.BENCH_ORIGINS ?? '20')
const latencyMs = Number(process.env.BENCH_RECEIVER_LATENCY_MS ?? '0')
const KEEP_ALIVE_MS = 30_000
const tls = process.env.BENCH_TLS_CERT_FILE === undefined ? undefined : {
  cert: readFileSync(process.env.BENCH_TLS_CERT_FILE),
  key: readFileSync(process.env.BENCH_TLS_KEY_FILE ?? ''),
  ...(process.env.BENCH_TLS_CLIENT_CA_FILE === undefined ? {} : { ca: readFileSync(process.env.BENCH_TLS_CLIENT_CA_FILE), requestCert: true, rejectUnauthorized: true }),
}
/** "Basic …" the token endpoint expects; undefined: no token needed. */
const tokenClient = process.env.BENCH_TOKEN_CLIENT === undefined ? undefined : `Basic ${Buffer.from(process.env.BENCH_TOKEN_CLIENT).toString('base64')}`
const tokenExpiresInS = Number(process.env.BENCH_TOKEN_EXPIRES_IN ?? '300')
/** "Bearer <token>" → when it expires (ms epoch). */
const tokens = new Map<string, number>()

const PROCESSING_ID = /"processing_id":(\d+)/
const SENT_AT = /"sent_at":(\d+)/

let base = 0
let n = 0
let hangOrigin = -1
let seen = new Uint8Array(0)
let latencies = new Float64Array(0)
let receivedAt = new Float64Array(0)
let deliveredIds = new Float64Array(0)
const SLOWEST_KEPT = 50
let counts: ReceiverCounts = emptyCounts()
let perOrigin = originStats()
const hanging = new Set<ServerResponse>()

function emptyCounts(): ReceiverCounts {
  return { delivered: 0, duplicates: 0, unknown: 0, hung: 0, requests: 0, first: 0, last: 0, unauthorized: 0, tokensIssued: 0 }
}

function originStats() {
  return Array.from({ length: originCount }, () => ({ delivered: 0, first: 0, last: 0 }))
}

function reset(command: ResetCommand): void {
  for (const response of hanging) response.socket?.destroy()
  hanging.clear()
  base = command.base
  n = command.n
  hangOrigin = command.hangOrigin
  seen = new Uint8Array(n)
  latencies = new Float64Array(n)
  receivedAt = new Float64Array(n)
  deliveredIds = new Float64Array(n)
  counts = emptyCounts()
  perOrigin = originStats()
}

function record(origin: number, body: string, now: number): void {
  counts.requests++
  if (origin === hangOrigin) {
    counts.hung++
    return
  }
  const id = PROCESSING_ID.exec(body)
  const index = id?.[1] === undefined ? -1 : Number(id[1]) - base
  if (!(index >= 0 && index < n)) {
    counts.unknown++
    return
  }
  if (seen[index] === 1) {
    counts.duplicates++
    return
  }
  seen[index] = 1
  const sentAt = Number(SENT_AT.exec(body)?.[1] ?? Number.NaN)
  latencies[counts.delivered] = now - sentAt
  receivedAt[counts.delivered] = now
  deliveredIds[counts.delivered] = base + index
  counts.delivered++
  if (counts.first === 0) counts.first = now
  counts.last = now
  const stats = perOrigin[origin]
  if (stats) {
    stats.delivered++
    if (stats.first === 0) stats.first = now
    stats.last = now
  }
}

function summarise(values: Float64Array): LatencySummary {
  const sorted = values.filter((value) => Number.isFinite(value)).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0
  let sum = 0
  for (const value of sorted) sum += value
  return { count: sorted.length, mean: sorted.length ? sum / sorted.length : 0, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: sorted.at(-1) ?? 0 }
}

function final(): ReceiverFinal {
  return {
    ...counts,
    latencyMs: summarise(latencies.subarray(0, counts.delivered)),
    perOrigin: perOrigin.map((stats, index) => ({ origin: originAddress(index), ...stats })),
    slowest: slowest(),
  }
}

function slowest(): ReceiverFinal['slowest'] {
  const order = Array.from({ length: counts.delivered }, (_, index) => index)
    .filter((index) => Number.isFinite(latencies[index]))
    .sort((a, b) => (latencies[b] as number) - (latencies[a] as number))
  return order.slice(0, SLOWEST_KEPT).map((index) => ({ latencyMs: latencies[index] as number, receivedAt: receivedAt[index] as number, processingId: deliveredIds[index] as number }))
}

function originAddress(index: number): string {
  return `127.0.0.${index + 2}`
}

function handler(origin: number) {
  return (request: IncomingMessage, response: ServerResponse) => {
    if (request.method === 'GET' && request.url === '/stats') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(counts))
      return
    }
    if (request.method === 'POST' && request.url === '/token' && origin < 0) return issueToken(request, response)
    if (tokenClient !== undefined && origin >= 0 && !tokenValid(request.headers.authorization)) {
      counts.unauthorized++
      request.resume()
      response.writeHead(401, { 'content-type': 'application/json', 'content-length': '2' })
      response.end('{}')
      return
    }
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const now = Date.now()
      const body = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('latin1')
      record(origin, body, now)
      if (origin === hangOrigin) {
        hanging.add(response)
        response.on('close', () => hanging.delete(response))
        return
      }
      if (latencyMs > 0) setTimeout(answer, latencyMs, response)
      else answer(response)
    })
  }
}

function tokenValid(authorization: string | undefined): boolean {
  const expiresAt = authorization === undefined ? undefined : tokens.get(authorization)
  return expiresAt !== undefined && expiresAt > Date.now()
}

/** OAuth2 client credentials (RFC 6749 §4.4) with client_secret_basic: a fresh opaque token per request. */
function issueToken(request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const grant = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('grant_type')
    if (tokenClient === undefined || request.headers.authorization !== tokenClient || grant !== 'client_credentials') {
      response.writeHead(401, { 'content-type': 'application/json' })
      response.end('{"error":"invalid_client"}')
      return
    }
    const token = randomBytes(24).toString('base64url')
    tokens.set(`Bearer ${token}`, Date.now() + tokenExpiresInS * 1000)
    counts.tokensIssued++
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    response.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: tokenExpiresInS }))
  })
}

function answer(response: ServerResponse): void {
  if (response.destroyed) return
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' })
  response.end('{}')
}

async function listen(origin: number, host: string, port: number): Promise<Server> {
  // The control server (origin -1: /stats, /token) stays plain HTTP.
  const server = tls !== undefined && origin >= 0 ? createTlsServer({ ...tls, keepAliveTimeout: KEEP_ALIVE_MS }, handler(origin)) : createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, handler(origin))
  server.listen(port, host)
  await once(server, 'listening')
  return server
}

async function listenAll(): Promise<{ servers: Server[]; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const control = await listen(-1, '127.0.0.1', 0)
    const { port } = control.address() as AddressInfo
    const servers = [control]
    try {
      for (let origin = 0; origin < originCount; origin++) servers.push(await listen(origin, originAddress(origin), port))
      return { servers, port }
    } catch (error) {
      for (const server of servers) server.close()
      if (attempt >= 5) throw error
    }
  }
}

function send(message: FromReceiver): void {
  process.send?.(message)
}

const { servers, port } = await listenAll()

process.on('message', (message: ToReceiver) => {
  switch (message.type) {
    case 'reset':
      reset(message.reset)
      send({ type: 'reply', id: message.id, data: null })
      break
    case 'counts':
      send({ type: 'reply', id: message.id, data: counts })
      break
    case 'final':
      send({ type: 'reply', id: message.id, data: final() })
      break
    case 'close':
      for (const response of hanging) response.socket?.destroy()
      for (const server of servers) {
        server.closeAllConnections()
        server.close()
      }
      send({ type: 'reply', id: message.id, data: null })
      process.disconnect?.()
      break
  }
})
// The parent going away (even by kill -9) closes the IPC channel: stop with it.
process.on('disconnect', () => process.exit(0))

send({ type: 'ready', port, origins: Array.from({ length: originCount }, (_, index) => `${tls === undefined ? 'http' : 'https'}://${originAddress(index)}:${port}`) })
