// A real HTTPS receiver for the destination tests: its certificate from a test PKI
// (helpers/tls.ts), asking for a client certificate and, when `requireClientCertificate`,
// refusing a connection without one signed by that CA (mutual TLS). It records, per request,
// the client certificate's subject (none when not presented), the TLS connection it came
// on, its Host and its headers.
import { once } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { TestPki } from './tls.ts'
import { waitForMatches } from './wait-for-matches.ts'

export interface TlsRequest {
  readonly path: string
  readonly host: string
  readonly headers: IncomingHttpHeaders
  /** The CN of the client certificate presented; undefined when none was. */
  readonly clientCertificate: string | undefined
  /** Which TLS connection carried it (1, 2, … in the order they were accepted). */
  readonly connection: number
}

export interface TlsReceiver {
  readonly port: number
  readonly requests: TlsRequest[]
  /** Status to answer with (200 by default). */
  status: number
  /** Body to answer with, as JSON (none by default). */
  json: unknown
  /** TLS connections accepted so far, and the ones that failed their handshake. */
  readonly accepted: number
  readonly refusedHandshakes: number
  openConnections(): Promise<number>
  waitFor(count: number, timeoutMs?: number, filter?: (request: TlsRequest) => boolean): Promise<TlsRequest[]>
  close(): Promise<void>
}

export async function startTlsReceiver(pki: TestPki, options: { requireClientCertificate: boolean }): Promise<TlsReceiver> {
  const requests: TlsRequest[] = []
  const waiters = new Set<() => void>()
  const ids = new WeakMap<TLSSocket, number>()
  let accepted = 0
  let refusedHandshakes = 0
  const server: Server = createServer({
    key: pki.server.key,
    cert: pki.server.cert,
    ca: pki.ca.pem,
    requestCert: true,
    rejectUnauthorized: options.requireClientCertificate,
  })
  server.on('secureConnection', (socket: TLSSocket) => ids.set(socket, ++accepted))
  server.on('tlsClientError', () => refusedHandshakes++)
  const receiver: TlsReceiver = {
    port: 0,
    requests,
    status: 200,
    json: undefined,
    get accepted() {
      return accepted
    },
    get refusedHandshakes() {
      return refusedHandshakes
    },
    openConnections: () => new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
    waitFor: (count, timeoutMs = 20_000, filter = () => true) => waitForMatches(requests, waiters, count, timeoutMs, filter, (found) => `TLS receiver: ${found} of ${count} requests after ${timeoutMs} ms`),
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  server.on('request', (request, response) => {
    request.resume()
    request.on('end', () => {
      const socket = request.socket as TLSSocket
      const peer = socket.getPeerCertificate()
      const subject = peer.subject as Record<string, string> | undefined
      requests.push({ path: request.url ?? '/', host: request.headers.host ?? '', headers: request.headers, clientCertificate: subject?.CN, connection: ids.get(socket) ?? 0 })
      for (const waiter of [...waiters]) waiter()
      if (receiver.json === undefined) response.writeHead(receiver.status).end()
      else response.writeHead(receiver.status, { 'content-type': 'application/json' }).end(JSON.stringify(receiver.json))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  Object.assign(receiver, { port: (server.address() as AddressInfo).port })
  return receiver
}
