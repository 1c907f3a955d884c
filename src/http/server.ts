// Operations endpoints on HTTP_PORT (contract §5): liveness, readiness, Prometheus metrics.
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
}

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
      default:
        return send(response, 404, { error: 'not found' })
    }
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}
