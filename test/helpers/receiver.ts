// A real local HTTP receiver for integration tests (like Svix's TestReceiver): it records
// every request and answers with whatever the test's responder decides.
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitForMatches } from './wait-for-matches.ts'

export interface ReceivedRequest {
  path: string
  headers: IncomingHttpHeaders
  body: string
  json: unknown
  at: number
}

export interface Reply {
  status: number
  headers?: Record<string, string>
  /** Wait this long before answering. */
  delayMs?: number
  /** Never answer (the request hangs until the client gives up). */
  hang?: boolean
}

export type Responder = (request: ReceivedRequest, index: number) => Reply

export interface Receiver {
  readonly url: string
  readonly port: number
  readonly requests: ReceivedRequest[]
  respond: Responder
  /** Resolves once `count` requests matching `filter` arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number, filter?: (request: ReceivedRequest) => boolean): Promise<ReceivedRequest[]>
  /** TCP connections open to it now (a killed sender's connections close once the receiver has read all they carried). */
  connections(): Promise<number>
  /** Requests received and not answered yet (a hung one until the sender gives up on it). */
  readonly inFlight: number
  /** The most requests unanswered at once since the start or the last `resetPeak()`. */
  readonly peakInFlight: number
  resetPeak(): void
  close(): Promise<void>
}

export async function startReceiver(respond: Responder = () => ({ status: 200 }), host = '127.0.0.1'): Promise<Receiver> {
  const requests: ReceivedRequest[] = []
  const waiters = new Set<() => void>()
  let inFlight = 0
  let peakInFlight = 0
  // eslint-disable-next-line prefer-const -- assigned once the receiver it serves exists
  let server: Server | undefined
  const receiver: Receiver = {
    url: '',
    port: 0,
    requests,
    respond,
    waitFor(count, timeoutMs = 20_000, filter = () => true) {
      return waitForMatches(requests, waiters, count, timeoutMs, filter, (found) => `receiver: ${found} of ${count} requests after ${timeoutMs} ms`)
    },
    get inFlight() {
      return inFlight
    },
    get peakInFlight() {
      return peakInFlight
    },
    resetPeak() {
      peakInFlight = inFlight
    },
    connections() {
      return new Promise((resolve, reject) => (server ? server.getConnections((error, count) => (error ? reject(error) : resolve(count))) : resolve(0)))
    },
    async close() {
      server?.closeAllConnections()
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    },
  }
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      const request: ReceivedRequest = { path: req.url ?? '/', headers: req.headers, body, json, at: Date.now() }
      peakInFlight = Math.max(peakInFlight, ++inFlight)
      res.once('close', () => inFlight--)
      const reply = receiver.respond(request, requests.length)
      requests.push(request)
      for (const waiter of [...waiters]) waiter()
      if (reply.hang) return
      setTimeout(() => {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers })
        res.end('{"ok":true}')
      }, reply.delayMs ?? 0)
    })
  })
  server.listen(0, host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  Object.assign(receiver, { url: `http://${host}:${port}`, port })
  return receiver
}
