// Ceiling (b): a minimal undici loop POSTing n notifications (the same JSON bodies and
// Standard Webhooks headers the service sends) to the same receiver and origins: one Pool
// per origin, the service's connections per origin, bounded concurrency.
import { Pool } from 'undici'
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
      try {
        const response = await pool.request({
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
        await response.body.dump()
        if (response.statusCode >= 200 && response.statusCode < 300) sent++
        else failed++
      } catch {
        failed++
      }
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
