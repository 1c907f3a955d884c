// The soak's client origins: about 200 local HTTP servers (distinct host:port: several ports
// on 127.0.0.1..127.0.0.N), each with one behaviour, and what each received per
// processing_id. The behaviour says how an id sent there must end (invariants.ts).
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { processingIdOf } from '../faults/receiver.ts'
import type { SeededRandom } from './random.ts'

export type Behaviour = 'fast' | 'slow' | 'flaky' | 'throttled' | 'hung' | 'gone' | 'closer'

/** Dead-letter codes each behaviour may end in; an empty list: it must be delivered. */
export const ALLOWED_LETTER_CODES: Record<Behaviour, readonly string[]> = {
  fast: [],
  slow: [],
  // an unlucky run of 5xx / 429 can exhaust the schedule, or open the origin's circuit
  flaky: ['DELIVERY_HTTP_STATUS', 'CALLBACK_UNAVAILABLE'],
  throttled: ['DELIVERY_HTTP_STATUS', 'CALLBACK_RATE_LIMITED', 'CALLBACK_UNAVAILABLE'],
  hung: ['DELIVERY_TIMEOUT', 'CALLBACK_UNAVAILABLE'],
  gone: ['DELIVERY_GONE'],
  closer: ['DELIVERY_NETWORK', 'CALLBACK_UNAVAILABLE'],
}

/** Behaviours that never answer 2xx: an id sent there can only be dead-lettered. */
export const NEVER_DELIVERS: ReadonlySet<Behaviour> = new Set(['hung', 'gone', 'closer'])

export interface Request {
  /** When the request had arrived (its body read). */
  arrivedAt: number
  /** When it was answered (or given up on: hung, closed). */
  at: number
  status: number
  webhookId: string
}

export interface Origin {
  readonly url: string
  readonly behaviour: Behaviour
}

export class Origins {
  readonly list: Origin[] = []
  readonly requests = new Map<number, Request[]>()
  readonly #servers: Server[] = []
  readonly #random: SeededRandom
  unattributed = 0

  constructor(random: SeededRandom) {
    this.#random = random
  }

  /** `count` origins: one hung, one gone, one closer, the rest fast 70 %, slow 15 %, flaky 9 %, throttled 6 %. */
  async start(count: number, ports = 4): Promise<void> {
    const hosts = Math.ceil(count / ports)
    for (let i = 0; i < count; i++) {
      const behaviour: Behaviour = i === 0 ? 'hung' : i === 1 ? 'gone' : i === 2 ? 'closer' : this.#mix()
      const server = createServer((req, res) => this.#answer(behaviour, req, res))
      server.keepAliveTimeout = 30_000
      server.listen(0, `127.0.0.${2 + (i % hosts)}`)
      await once(server, 'listening')
      const { address, port } = server.address() as AddressInfo
      this.#servers.push(server)
      this.list.push({ url: `http://${address}:${port}`, behaviour })
    }
  }

  firstOkAt(id: number): number | undefined {
    return this.requests.get(id)?.find((r) => r.status >= 200 && r.status < 300)?.at
  }

  okCount(id: number): number {
    return this.requests.get(id)?.filter((r) => r.status >= 200 && r.status < 300).length ?? 0
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#servers.map((server) => {
        server.closeAllConnections()
        return new Promise<void>((resolve) => server.close(() => resolve()))
      }),
    )
  }

  #mix(): Behaviour {
    const roll = this.#random.next()
    return roll < 0.7 ? 'fast' : roll < 0.85 ? 'slow' : roll < 0.94 ? 'flaky' : 'throttled'
  }

  #answer(behaviour: Behaviour, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const arrivedAt = Date.now()
      const id = processingIdOf(Buffer.concat(chunks).toString('utf8'))
      const webhookId = String(req.headers['webhook-id'] ?? '')
      const record = (status: number) => {
        if (id === undefined) this.unattributed++
        else {
          const seen = this.requests.get(id)
          const request = { arrivedAt, at: Date.now(), status, webhookId }
          if (seen) seen.push(request)
          else this.requests.set(id, [request])
        }
      }
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
}
