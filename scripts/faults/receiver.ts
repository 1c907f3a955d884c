// The fault script's local callback receiver. It answers 2xx (or, in "flaky" mode, 503 or
// nothing at all) and keeps, per processing_id, when the receiver first answered 2xx and how
// often. A notification counts as delivered once the receiver answered 2xx to a request whose
// body carries its processing_id (a success body has `response.processing_id`, an error body
// `processing_id`).
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Flakiness {
  /** Share of requests answered 503 (0..1). */
  fail503: number
  /** Share of requests never answered (0..1): the client must time out. */
  hang: number
}

export interface IdStats {
  /** When the receiver first answered 2xx for this id (ms since the epoch). */
  firstOkAt?: number
  /** Every 2xx answer for this id, in order (ms since the epoch). */
  okAt: number[]
  failed503: number
  hung: number
  webhookIds: Set<string>
}

export class Receiver {
  readonly #server: Server
  #port = 0
  #flaky: Flakiness = { fail503: 0, hang: 0 }
  #stats = new Map<number, IdStats>()
  #watched = new Set<number>()
  requests = 0
  /** Requests whose body carried no processing_id of the current scenario. */
  unattributed = 0
  delivered = 0
  duplicates = 0

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        this.requests++
        const id = processingIdOf(Buffer.concat(chunks).toString('utf8'))
        const stats = id !== undefined && this.#watched.has(id) ? this.#statsFor(id) : undefined
        if (!stats) this.unattributed++
        const roll = Math.random()
        if (roll < this.#flaky.hang) {
          if (stats) stats.hung++
          return // never answered; the socket is destroyed when the client gives up or we close
        }
        if (roll < this.#flaky.hang + this.#flaky.fail503) {
          if (stats) stats.failed503++
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"unavailable"}')
          return
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
        if (stats) {
          const now = Date.now()
          stats.okAt.push(now)
          const webhookId = req.headers['webhook-id']
          if (typeof webhookId === 'string') stats.webhookIds.add(webhookId)
          if (stats.firstOkAt === undefined) {
            stats.firstOkAt = now
            this.delivered++
          } else if (stats.okAt.length === 2) {
            this.duplicates++
          }
        }
      })
    })
    this.#server.keepAliveTimeout = 30_000
  }

  async listen(): Promise<void> {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.#port = (this.#server.address() as AddressInfo).port
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  /** Starts a scenario: forget everything, watch these ids, answer with this flakiness. */
  reset(ids: Iterable<number>, flaky: Flakiness = { fail503: 0, hang: 0 }): void {
    this.#stats = new Map()
    this.#watched = new Set(ids)
    this.#flaky = flaky
    this.requests = 0
    this.unattributed = 0
    this.delivered = 0
    this.duplicates = 0
    // connections left over from an earlier scenario (hung requests) are of no use
    this.#server.closeIdleConnections()
  }

  stats(id: number): IdStats | undefined {
    return this.#stats.get(id)
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #statsFor(id: number): IdStats {
    let stats = this.#stats.get(id)
    if (!stats) {
      stats = { okAt: [], failed503: 0, hung: 0, webhookIds: new Set() }
      this.#stats.set(id, stats)
    }
    return stats
  }
}

export function processingIdOf(body: string): number | undefined {
  try {
    const json = JSON.parse(body) as { processing_id?: unknown; response?: { processing_id?: unknown } }
    const id = json.response?.processing_id ?? json.processing_id
    return typeof id === 'number' ? id : undefined
  } catch {
    return undefined
  }
}
