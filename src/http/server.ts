// Operations endpoints on HTTP_PORT (contract §5): liveness, readiness, Prometheus metrics,
// and, only when ADMIN_TOKEN is set and sent as a bearer token, a notification's status.
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

export interface Readiness {
  ready: boolean
  checks: Record<string, boolean>
}

export interface OpsServerDeps {
  readiness(): Promise<Readiness>
  registry: Registry
  /** Unset: the admin endpoints are off (404), not open. */
  adminToken: string | undefined
  notificationStatus(processingId: number): Promise<unknown>
}

const NOTIFICATION_PATH = /^\/notifications\/(\d{1,16})$/

export class OpsServer {
  readonly #server: Server
  readonly #deps: OpsServerDeps

  constructor(deps: OpsServerDeps) {
    this.#deps = deps
    this.#server = createServer((request, response) => {
      this.#route(request, response).catch((error: unknown) => send(response, 500, { error: String(error) }))
    })
    this.#server.keepAliveTimeout = 5000
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    return (this.#server.address() as AddressInfo).port
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0]
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, { error: 'method not allowed' })
    switch (path) {
      case '/healthz':
        return send(response, 200, { status: 'ok' })
      case '/readyz': {
        const readiness = await this.#deps.readiness()
        return send(response, readiness.ready ? 200 : 503, { status: readiness.ready ? 'ready' : 'not ready', checks: readiness.checks })
      }
      case '/metrics': {
        const body = await this.#deps.registry.metrics()
        response.writeHead(200, { 'content-type': this.#deps.registry.contentType })
        response.end(body)
        return
      }
      default: {
        const match = NOTIFICATION_PATH.exec(path ?? '')
        if (!match || this.#deps.adminToken === undefined) return send(response, 404, { error: 'not found' })
        if (!bearerMatches(request.headers.authorization, this.#deps.adminToken)) {
          response.setHeader('www-authenticate', 'Bearer')
          return send(response, 401, { error: 'unauthorized' })
        }
        const status = await this.#deps.notificationStatus(Number(match[1]))
        return status === undefined ? send(response, 404, { error: 'no such notification' }) : send(response, 200, status)
      }
    }
  }
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? ''
  // Compare digests: equal length, constant time, whatever was sent.
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(token).digest())
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}
