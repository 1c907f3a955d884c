// Callbacks through an HTTP CONNECT proxy (CALLBACK_PROXY_URL), against Debian's tinyproxy
// and real local servers: the address guard judges the target before the proxy hears of
// it, the proxy is asked for the checked address (never a name it would resolve itself),
// Host and TLS server name stay the callback's, and proxy failures are told apart from the
// callback's answers. No broker, no Redis.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { createServer as createTlsServer, createSecureContext } from 'node:tls'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, test } from 'node:test'
import { AddressGuard } from '../../src/delivery/address-guard.ts'
import type { ProxySettings } from '../../src/config.ts'
import { CallbackClient, type CallbackClientOptions } from '../../src/delivery/http-client.ts'
import type { AttemptOutcome } from '../../src/delivery/transport.ts'
import { ErrorCodes, type DeliveryError } from '../../src/errors.ts'
import type { Notification } from '../../src/notifications/payload.ts'
import { freePort } from '../helpers/service.ts'
import { startTinyproxy, type Tinyproxy } from '../helpers/tinyproxy.ts'

interface Seen {
  url: string
  headers: IncomingHttpHeaders
  body: string
}

let receiver: Server
let port = 0
let seen: Seen[] = []
let status = 200
let proxy: Tinyproxy

before(async () => {
  receiver = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      seen.push({ url: request.url ?? '', headers: request.headers, body })
      response.writeHead(status).end()
    })
  })
  receiver.listen(0, '127.0.0.1')
  await once(receiver, 'listening')
  port = (receiver.address() as AddressInfo).port
  proxy = await startTinyproxy()
})

after(async () => {
  await Promise.all(clients.map((created) => created.close().catch(() => undefined)))
  await proxy?.close()
  receiver.closeAllConnections()
  await new Promise<void>((resolve) => receiver.close(() => resolve()))
})

beforeEach(() => {
  seen = []
  status = 200
})

const clients: CallbackClient[] = []

function through(target: Tinyproxy | number, options: Partial<CallbackClientOptions> = {}): CallbackClient {
  const proxyPort = typeof target === 'number' ? target : target.port
  const settings: ProxySettings = { host: '127.0.0.1', port: proxyPort, username: undefined, password: undefined }
  const created = new CallbackClient({
    timeoutMs: 3000,
    connectionsPerOrigin: 4,
    maxResponseBytes: 64 * 1024,
    secrets: [],
    guard: new AddressGuard(['127.0.0.0/8']),
    proxy: settings,
    ...options,
  })
  clients.push(created)
  return created
}

let nextId = 1

function notification(callbackUrl: string): Notification {
  const processingId = nextId++
  return {
    kind: 'result',
    processingId,
    webhookId: `processing_${processingId}`,
    callbackUrl,
    body: JSON.stringify({ status: 'success', processing_id: processingId, note: 'café ✓' }),
    isError: false,
  }
}

function failure(outcome: AttemptOutcome): DeliveryError {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`)
  return (outcome as { error: DeliveryError }).error
}

/** What the proxy was asked for since `mark` (its CONNECT targets). */
function connectsSince(mark: number, from: Tinyproxy = proxy): string[] {
  return from.connects().slice(mark)
}

describe('CallbackClient through an HTTP CONNECT proxy (tinyproxy)', () => {
  test('a callback host name is resolved and checked here: the proxy is asked for 127.0.0.1, Host and body are the callback\'s', async () => {
    const mark = proxy.connects().length
    const sent = notification(`http://localhost:${port}/hooks/named?x=1`)
    const outcome = await through(proxy).send(sent)
    assert.equal(outcome.ok, true, JSON.stringify(outcome))
    assert.equal(seen.length, 1)
    const [request] = seen
    assert.ok(request)
    assert.equal(request.url, '/hooks/named?x=1')
    assert.equal(request.headers.host, `localhost:${port}`)
    assert.equal(request.body, sent.body)
    assert.equal(request.headers['webhook-id'], sent.webhookId)
    assert.equal(request.headers['proxy-authorization'], undefined)
    assert.deepEqual(connectsSince(mark), [`127.0.0.1:${port}`])
  })

  test('connections through the tunnel are kept alive: 20 sequential sends, a tunnel or two', async () => {
    const mark = proxy.connects().length
    const sender = through(proxy)
    for (let i = 0; i < 20; i++) assert.equal((await sender.send(notification(`http://127.0.0.1:${port}/seq/${i}`))).ok, true)
    assert.equal(seen.length, 20)
    const tunnels = connectsSince(mark)
    assert.ok(tunnels.length >= 1 && tunnels.length <= 2, `${tunnels.length} tunnels`)
    for (const target of tunnels) assert.equal(target, `127.0.0.1:${port}`)
  })

  test("the callback's own status comes through the tunnel: 503 is DELIVERY_HTTP_STATUS 503", async () => {
    status = 503
    const error = failure(await through(proxy).send(notification(`http://127.0.0.1:${port}/busy`)))
    assert.equal(error.code, ErrorCodes.DELIVERY_HTTP_STATUS)
    assert.equal(error.statusCode, 503)
  })

  test('refused targets fail with CALLBACK_ADDRESS_BLOCKED and never reach the proxy', async () => {
    const mark = proxy.requests().length
    const strict = through(proxy, { guard: new AddressGuard([]) })
    const lenient = through(proxy)
    for (const [sender, url] of [
      [strict, `http://localhost:${port}/by-name`],
      [strict, `http://127.0.0.1:${port}/literal`],
      [strict, `http://[::ffff:127.0.0.1]:${port}/mapped`],
      [lenient, 'http://169.254.169.254/latest/meta-data/'],
      [lenient, 'https://169.254.169.254/latest/meta-data/'],
    ] as const) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const error = failure(await sender.send(notification(url)))
        assert.equal(error.code, ErrorCodes.CALLBACK_ADDRESS_BLOCKED, `${url}: ${error.message}`)
        assert.equal(error.canRetry, false)
      }
    }
    assert.equal(seen.length, 0)
    assert.deepEqual(proxy.requests().slice(mark), [], 'the proxy got no request at all')
  })

  test('proxy down: CALLBACK_PROXY_UNAVAILABLE naming the proxy, retried', async () => {
    const down = await freePort()
    const error = failure(await through(down).send(notification(`http://127.0.0.1:${port}/down`)))
    assert.equal(error.code, ErrorCodes.CALLBACK_PROXY_UNAVAILABLE)
    assert.equal(error.canRetry, true)
    assert.match(error.message, new RegExp(`proxy 127\\.0\\.0\\.1:${down} unreachable \\(ECONNREFUSED`))
    assert.equal(seen.length, 0)
  })

  test("a proxy that refuses the port (ConnectPort): CALLBACK_PROXY_UNAVAILABLE with the proxy's 403, not a callback status", async () => {
    const strictProxy = await startTinyproxy(['ConnectPort 1'])
    try {
      const error = failure(await through(strictProxy).send(notification(`http://localhost:${port}/denied`)))
      assert.equal(error.code, ErrorCodes.CALLBACK_PROXY_UNAVAILABLE)
      assert.equal(error.canRetry, true)
      assert.equal(error.statusCode, undefined)
      assert.match(error.message, new RegExp(`^proxy 127\\.0\\.0\\.1:${strictProxy.port} refused CONNECT 127\\.0\\.0\\.1:${port}: 403`))
      assert.equal(seen.length, 0)
    } finally {
      await strictProxy.close()
    }
  })

  test('a proxy that wants credentials: 407 without them; with them (from the URL) the callback arrives', async () => {
    const guarded = await startTinyproxy(['BasicAuth notifier s3cret'])
    try {
      const error = failure(await through(guarded).send(notification(`http://127.0.0.1:${port}/no-auth`)))
      assert.equal(error.code, ErrorCodes.CALLBACK_PROXY_UNAVAILABLE)
      assert.match(error.message, /refused CONNECT 127\.0\.0\.1:\d+: 407/)
      const withAuth = through(guarded, { proxy: { host: '127.0.0.1', port: guarded.port, username: 'notifier', password: 's3cret' } })
      assert.equal((await withAuth.send(notification(`http://127.0.0.1:${port}/auth`))).ok, true)
      assert.deepEqual(
        seen.map((request) => request.url),
        ['/auth'],
      )
      assert.equal(seen[0]?.headers['proxy-authorization'], undefined, 'the credentials stay with the proxy')
    } finally {
      await guarded.close()
    }
  })

  test('a proxy that never answers the CONNECT: DELIVERY_TIMEOUT at the attempt deadline', async () => {
    const silent = createTcpServer(() => undefined)
    const sockets: Socket[] = []
    silent.on('connection', (socket) => sockets.push(socket))
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    try {
      const started = performance.now()
      const outcome = await through((silent.address() as AddressInfo).port, { timeoutMs: 300 }).send(notification(`http://127.0.0.1:${port}/silent`))
      const waited = performance.now() - started
      assert.equal(failure(outcome).code, ErrorCodes.DELIVERY_TIMEOUT)
      assert.ok(waited >= 290 && waited < 1500, `waited ${waited} ms`)
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })

  test('https: TLS runs inside the tunnel to the checked address, with the callback host as server name', async () => {
    // A self-signed certificate: the client does not trust it (no test-only trust option in
    // the service), so the attempt fails on the certificate; what matters is who was asked
    // for what. Needs the openssl command.
    const dir = mkdtempSync(join(tmpdir(), 'proxy-tls-'))
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
      const context = createSecureContext({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) })
      const serverNames: string[] = []
      const tlsServer = createTlsServer({
        SNICallback: (name, done) => {
          serverNames.push(name)
          done(null, context)
        },
      })
      tlsServer.on('tlsClientError', () => undefined)
      tlsServer.listen(0, '127.0.0.1')
      await once(tlsServer, 'listening')
      const tlsPort = (tlsServer.address() as AddressInfo).port
      try {
        const mark = proxy.connects().length
        const error = failure(await through(proxy).send(notification(`https://localhost:${tlsPort}/secure`)))
        assert.equal(error.code, ErrorCodes.DELIVERY_NETWORK)
        assert.match(error.message, /SELF_SIGNED|self-signed|certificate/i)
        assert.deepEqual(serverNames, ['localhost'])
        assert.deepEqual(connectsSince(mark), [`127.0.0.1:${tlsPort}`])
      } finally {
        tlsServer.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
