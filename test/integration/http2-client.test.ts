// HTTP/2 where the origin offers it: undici (8.x) negotiates h2 by ALPN on https unless told
// not to, and the callback client leaves it on. Against a real local TLS server that offers
// h2 and HTTP/1.1, many attempts share one connection, each its own stream: concurrency is
// then the origin gate's limit, not a number of connections. Its own file: the test CA is
// made a default CA of this process (tls.setDefaultCACertificates), as the service has no
// test-only trust option.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createSecureServer, type Http2SecureServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { getCACertificates, setDefaultCACertificates } from 'node:tls'
import { AddressGuard } from '../../src/delivery/address-guard.ts'
import { CallbackClient } from '../../src/delivery/http-client.ts'
import type { Notification } from '../../src/notifications/payload.ts'

let server: Http2SecureServer
let base = ''
const versions: string[] = []
let sessions = 0
let streamsNow = 0
let streamsPeak = 0

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'h2-tls-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
    setDefaultCACertificates([...getCACertificates('default'), cert])
    server = createSecureServer({ key: readFileSync(join(dir, 'key.pem')), cert, allowHTTP1: true }, (request, response) => {
      versions.push(request.httpVersion)
      streamsPeak = Math.max(streamsPeak, ++streamsNow)
      request.resume()
      request.on('end', () => {
        setTimeout(() => {
          streamsNow--
          response.writeHead(200, { 'content-type': 'application/json' })
          response.end('{}')
        }, 100)
      })
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  server.on('session', () => sessions++)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `https://localhost:${(server.address() as AddressInfo).port}`
})

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

function notification(processingId: number): Notification {
  return {
    kind: 'result',
    processingId,
    webhookId: `processing_${processingId}`,
    callbackUrl: `${base}/hook/${processingId}`,
    body: JSON.stringify({ status: 'success', processing_id: processingId }),
    isError: false,
  }
}

describe('CallbackClient over HTTP/2', () => {
  test('an https origin offering h2 gets every attempt as a stream of one connection, many at once', async () => {
    const client = new CallbackClient({ timeoutMs: 5000, connectionsPerOrigin: 256, maxResponseBytes: 64 * 1024, secrets: [], guard: new AddressGuard(['127.0.0.0/8', '::1/128']) })
    try {
      const outcomes = await Promise.all(Array.from({ length: 60 }, (_, i) => client.send(notification(i + 1))))
      assert.deepEqual(
        outcomes.filter((outcome) => !outcome.ok),
        [],
      )
      assert.equal(versions.length, 60)
      assert.deepEqual([...new Set(versions)], ['2.0'])
      assert.equal(sessions, 1, 'one connection')
      assert.ok(streamsPeak > 32, `${streamsPeak} streams at once`)
    } finally {
      await client.close()
    }
  })
})
