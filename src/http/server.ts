// HTTP endpoints on HTTP_PORT (contract §5). Open: liveness, readiness, Prometheus metrics.
// Admin, only when ADMIN_TOKEN is set (404 otherwise, not open): the dashboard's static page
// (it holds no data) and everything with data or effects, which needs the bearer token:
// a notification's status, recent activity, dead letters and their replay, callback origins
// (list, pause, resume), the destinations file (secrets redacted).
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import type { Admin } from '../dashboard/admin.ts'
import type { Asset } from '../dashboard/assets.ts'
import { AdminRequestError, describeError, type AdminRefusal } from '../errors.ts'
import type { NotificationStatus } from './notification-status.ts'

export interface Readiness {
  ready: boolean
  checks: Record<string, boolean>
}

export interface OpsServerDeps {
  readiness(): Promise<Readiness>
  registry: Registry
  /** Unset: the admin endpoints are off (404), not open. */
  adminToken: string | undefined
  admin: Admin
  notificationStatus: NotificationStatus
  dashboard: { page: Asset; files: ReadonlyMap<string, Asset> }
}

/** How an admin refusal is answered. */
const REFUSAL_STATUS: Record<AdminRefusal, number> = { 'not-found': 404, busy: 409, invalid: 422 }
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics'])
const NOTIFICATION_PATH = /^\/notifications\/(\d{1,16})$/
const REPLAY_ONE_PATH = /^\/admin\/dead-letters\/(\d{1,9})\/(\d{1,19})\/replay$/
const ASSET_PATH = /^\/dashboard\/assets\/([\w.-]+)$/
const MAX_REQUEST_BODY_BYTES = 1024
const DEFAULT_DEAD_LETTER_LIMIT = 50
const MAX_DEAD_LETTER_LIMIT = 500
/** The page loads only its own files and talks only to this server. */
const DASHBOARD_SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}

export class OpsServer {
  readonly #server: Server
  readonly #deps: OpsServerDeps

  constructor(deps: OpsServerDeps) {
    this.#deps = deps
    this.#server = createServer((request, response) => {
      this.#route(request, response).catch((error: unknown) => {
        if (error instanceof AdminRequestError) return send(response, REFUSAL_STATUS[error.refusal], { error: error.message, code: error.code })
        send(response, 500, { error: describeError(error) })
      })
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
    const url = new URL(request.url ?? '/', 'http://service')
    const path = url.pathname
    const method = request.method === 'HEAD' ? 'GET' : request.method
    if (OPEN_PATHS.has(path) && method !== 'GET') return send(response, 405, { error: 'method not allowed' })
    if (method === 'GET') {
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
      }
    }
    const { adminToken, dashboard } = this.#deps
    if (adminToken === undefined) return send(response, 404, { error: 'not found' })

    // The dashboard's static files: code only; the page asks for the token and sends it with every call.
    if (method === 'GET' && (path === '/dashboard' || path === '/dashboard/')) return sendAsset(response, dashboard.page)
    const asset = method === 'GET' ? dashboard.files.get(ASSET_PATH.exec(path)?.[1] ?? '') : undefined
    if (asset) return sendAsset(response, asset)

    const route = this.#adminRoute(method, path, url.searchParams)
    if (!route) return send(response, 404, { error: 'not found' })
    if (!bearerMatches(request.headers.authorization, adminToken)) {
      response.setHeader('www-authenticate', 'Bearer')
      return send(response, 401, { error: 'unauthorized' })
    }
    const body = method === 'POST' ? await readJsonBody(request) : undefined
    return send(response, 200, await route(body))
  }

  /** The admin operation a request names, or undefined. All of them need the bearer token. */
  #adminRoute(method: string | undefined, path: string, query: URLSearchParams): ((body: unknown) => Promise<unknown>) | undefined {
    const { admin, notificationStatus } = this.#deps
    if (method === 'GET') {
      const notification = NOTIFICATION_PATH.exec(path)
      if (notification) return () => notificationStatus.of(Number(notification[1]))
      if (path === '/admin/activity') return () => Promise.resolve(admin.activity())
      if (path === '/admin/origins') return () => admin.origins()
      if (path === '/admin/destinations') return () => Promise.resolve(admin.destinations())
      if (path === '/admin/dead-letters') {
        const limit = Math.min(Math.max(Number(query.get('limit') ?? DEFAULT_DEAD_LETTER_LIMIT) || DEFAULT_DEAD_LETTER_LIMIT, 1), MAX_DEAD_LETTER_LIMIT)
        return () => admin.deadLetters(limit)
      }
    }
    if (method === 'POST') {
      // Many at once: no body = every notification; a JSON filter and dry_run (dashboard/replay-request.ts).
      if (path === '/admin/dead-letters/replay') return (body) => admin.replayMany(body)
      if (path === '/admin/origins/pause') return (body) => admin.pauseOrigin(body)
      if (path === '/admin/origins/resume') return (body) => admin.resumeOrigin(body)
      const one = REPLAY_ONE_PATH.exec(path)
      if (one) return (body) => admin.replayOne(Number(one[1]), BigInt(one[2] ?? '0'), isForced(body))
    }
    return undefined
  }
}

function isForced(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { force?: unknown }).force === true
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_REQUEST_BODY_BYTES) throw new AdminRequestError('invalid', `request body larger than ${MAX_REQUEST_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch {
    throw new AdminRequestError('invalid', 'request body is not JSON')
  }
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? ''
  // Compare digests: equal length, constant time, whatever was sent.
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(token).digest())
}

function sendAsset(response: ServerResponse, asset: Asset): void {
  response.writeHead(200, { 'content-type': asset.contentType, 'content-length': asset.body.length, ...DASHBOARD_SECURITY_HEADERS })
  response.end(asset.body)
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  response.end(text)
}
