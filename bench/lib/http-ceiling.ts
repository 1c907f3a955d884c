// Ceiling (b): a minimal undici loop POSTing n notifications (the same JSON bodies and
// Standard Webhooks headers the service sends) to the same receiver and origins: one Pool
// per origin, the service's connections per origin, bounded concurrency. It uses the API
// the service uses, dispatch() with a handler that only waits for the end: the same loop
// with request() took ~47 µs of CPU per POST against ~35 µs (23,167 req/s at 108 % of a
// core vs 28,703 at 100 %), so it was no longer a ceiling for the service.
import { Pool, type Dispatcher } from 'undici'
import { notificationJson, originOf, type Layout } from './messages.ts'

export interface HttpCeilingOptions {
  origins: readonly string[]
  n: number
  base: number
  layout: Layout
  concurrency: number
  connectionsPerOrigin: number
  onProgress?: (done: number) => void
}

export interface HttpCeiling {
  sent: number
  failed: number
  seconds: number
}

export async function httpCeiling(options: HttpCeilingOptions): Promise<HttpCeiling> {
  const pools = options.origins.map((origin) => new Pool(origin, { connections: options.connectionsPerOrigin, keepAliveTimeout: 30_000 }))
  let next = 0
  let sent = 0
  let failed = 0
  const started = performance.now()
  const worker = async (): Promise<void> => {
    while (next < options.n) {
      const index = next++
      const processingId = options.base + index
      const pool = pools[originOf(options.layout, index)] as Pool
      const statusCode = await post(pool, {
        path: '/hook',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'notification-service/1',
          'webhook-id': `processing_${processingId}`,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        },
        body: notificationJson(processingId, Date.now()),
      })
      if (statusCode >= 200 && statusCode < 300) sent++
      else failed++
      if ((sent + failed) % 500 === 0) options.onProgress?.(sent + failed)
    }
  }
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker))
  } finally {
    await Promise.all(pools.map((pool) => pool.close()))
  }
  options.onProgress?.(sent + failed)
  return { sent, failed, seconds: (performance.now() - started) / 1000 }
}

/** One POST through dispatch() (as the service sends); resolves with the status once the answer has ended, 0 on a transport error. */
export function post(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Promise<number> {
  return new Promise((resolve) => {
    let statusCode = 0
    dispatcher.dispatch(options, {
      onRequestStart() {},
      onResponseStart(_controller, status) {
        statusCode = status
      },
      onResponseData() {},
      onResponseEnd() {
        resolve(statusCode)
      },
      onResponseError() {
        resolve(0)
      },
    })
  })
}
