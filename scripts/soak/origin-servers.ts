// The soak's origins' HTTP servers, in a worker thread of their own (origins.ts starts it):
// the soak's main thread also produces the load and reads both topics, and under a long
// run's load its event loop and collections lagged by seconds, so that a fast origin
// answered after the service's deadline and looked like the service's fault. Here they
// answer on their own event loop and heap, and send what they received to the main thread
// in batches.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parentPort, workerData } from 'node:worker_threads'
import { processingIdOf } from '../faults/receiver.ts'
import type { Behaviour, FromOrigins, OriginServersData, RequestRow, ToOrigins } from './origins.ts'

/** How often received requests go to the main thread. */
const FLUSH_MS = 200

const servers: Server[] = []
let rows: RequestRow[] = []

function flush(): void {
  if (rows.length === 0) return
  parentPort?.postMessage({ type: 'requests', rows } satisfies FromOrigins)
  rows = []
}

function answer(behaviour: Behaviour, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const arrivedAt = Date.now()
    const id = processingIdOf(Buffer.concat(chunks).toString('utf8')) ?? -1
    const webhookId = String(req.headers['webhook-id'] ?? '')
    const signedAt = 1000 * (Number(req.headers['webhook-timestamp']) || 0)
    const record = (status: number) => rows.push([id, arrivedAt, Date.now(), status, webhookId, signedAt])
    const reply = (status: number, headers: Record<string, string> = {}) => {
      record(status)
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(status < 300 ? '{"ok":true}' : '{"error":"no"}')
    }
    switch (behaviour) {
      case 'fast':
        return reply(200)
      case 'slow':
        return void setTimeout(() => reply(200), 200 + Math.random() * 600)
      case 'flaky':
        return Math.random() < 0.3 ? reply(Math.random() < 0.5 ? 503 : 500) : reply(200)
      case 'throttled':
        return Math.random() < 0.3 ? reply(429, { 'retry-after': '1' }) : reply(200)
      case 'gone':
        return reply(410)
      case 'hung':
        return record(0) // never answered: the client's time limit ends it
      case 'closer':
        record(-1)
        return void req.socket.destroy()
    }
  })
}

async function start({ behaviours, ports }: OriginServersData): Promise<void> {
  const hosts = Math.ceil(behaviours.length / ports)
  const urls: string[] = []
  for (const [i, behaviour] of behaviours.entries()) {
    const server = createServer((req, res) => answer(behaviour, req, res))
    server.keepAliveTimeout = 30_000
    server.listen(0, `127.0.0.${2 + (i % hosts)}`)
    await once(server, 'listening')
    const { address, port } = server.address() as AddressInfo
    servers.push(server)
    urls.push(`http://${address}:${port}`)
  }
  const flushing = setInterval(flush, FLUSH_MS)
  parentPort?.on('message', (message: ToOrigins) => {
    if (message.type !== 'close') return
    clearInterval(flushing)
    for (const server of servers) server.closeAllConnections()
    void Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => {
      flush()
      parentPort?.postMessage({ type: 'closed' } satisfies FromOrigins)
    })
  })
  parentPort?.postMessage({ type: 'listening', urls } satisfies FromOrigins)
}

void start(workerData as OriginServersData)
