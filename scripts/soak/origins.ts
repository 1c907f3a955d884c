// The soak's client origins: about 200 local HTTP servers (distinct host:port: several ports
// on 127.0.0.1..127.0.0.N), each with one behaviour, and what each received per
// processing_id. The behaviour says how an id sent there must end (invariants.ts). The
// servers run in a worker thread (origin-servers.ts), so that they answer on time whatever
// the soak's main thread is doing.
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
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
  /** Its `webhook-timestamp` (whole seconds, as ms; 0 if absent): when the service built the request. */
  signedAt: number
}

export interface Origin {
  readonly url: string
  readonly behaviour: Behaviour
}

/* The messages between this thread and the origins' worker (origin-servers.ts). */

/** One request as sent to the main thread: id (-1: no processing_id), arrivedAt, at, status, webhook-id, webhook-timestamp (ms). */
export type RequestRow = [id: number, arrivedAt: number, at: number, status: number, webhookId: string, signedAt: number]

export type FromOrigins = { type: 'listening'; urls: string[] } | { type: 'requests'; rows: RequestRow[] } | { type: 'closed' }
export type ToOrigins = { type: 'close' }

export interface OriginServersData {
  behaviours: Behaviour[]
  /** Ports per host (127.0.0.2..): distinct host:port origins without thousands of hosts. */
  ports: number
}

export class Origins {
  readonly list: Origin[] = []
  readonly requests = new Map<number, Request[]>()
  readonly #random: SeededRandom
  #worker: Worker | undefined
  unattributed = 0

  constructor(random: SeededRandom) {
    this.#random = random
  }

  /** `count` origins: one hung, one gone, one closer, the rest fast 70 %, slow 15 %, flaky 9 %, throttled 6 %. */
  async start(count: number, ports = 4): Promise<void> {
    const behaviours = Array.from({ length: count }, (_, i): Behaviour => (i === 0 ? 'hung' : i === 1 ? 'gone' : i === 2 ? 'closer' : this.#mix()))
    const worker = new Worker(new URL('./origin-servers.ts', import.meta.url), { workerData: { behaviours, ports } satisfies OriginServersData })
    this.#worker = worker
    worker.on('message', (message: FromOrigins) => {
      if (message.type === 'requests') this.#receive(message.rows)
    })
    const [first] = (await once(worker, 'message')) as [FromOrigins]
    if (first.type !== 'listening') throw new Error(`the origins' worker said ${first.type} before listening`)
    first.urls.forEach((url, i) => this.list.push({ url, behaviour: behaviours[i] ?? 'fast' }))
  }

  firstOkAt(id: number): number | undefined {
    return this.requests.get(id)?.find((r) => r.status >= 200 && r.status < 300)?.at
  }

  okCount(id: number): number {
    return this.requests.get(id)?.filter((r) => r.status >= 200 && r.status < 300).length ?? 0
  }

  /** Closes the servers; every request they received is in `requests` once this resolves. */
  async close(): Promise<void> {
    const worker = this.#worker
    if (!worker) return
    this.#worker = undefined
    const closed = new Promise<void>((resolve) => worker.on('message', (message: FromOrigins) => message.type === 'closed' && resolve()))
    worker.postMessage({ type: 'close' } satisfies ToOrigins)
    await closed
    await worker.terminate()
  }

  #receive(rows: RequestRow[]): void {
    for (const [id, arrivedAt, at, status, webhookId, signedAt] of rows) {
      if (id === -1) {
        this.unattributed++
        continue
      }
      const request = { arrivedAt, at, status, webhookId, signedAt }
      const seen = this.requests.get(id)
      if (seen) seen.push(request)
      else this.requests.set(id, [request])
    }
  }

  #mix(): Behaviour {
    const roll = this.#random.next()
    return roll < 0.7 ? 'fast' : roll < 0.85 ? 'slow' : roll < 0.94 ? 'flaky' : 'throttled'
  }
}
