// Destinations with OAuth2 client credentials (RFC 6749 §4.4), the whole service (Kafka,
// Redis) configured through a YAML destinations file: a real authorization server
// (oauth2-mock-server) issuing signed JWTs the endpoint verifies, with client_secret_basic
// and client_secret_post; a counting token endpoint of our own for one request per burst,
// caching until near expiry, a token rotation (old token answered 401) and an identity
// provider that fails, then recovers.
import assert from 'node:assert/strict'
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Events, OAuth2Server, type MutableResponse, type TokenRequestIncomingMessage } from 'oauth2-mock-server'
import { ErrorCodes } from '../../src/errors.ts'
import { destinationsFile } from '../helpers/destinations.ts'
import { produce, uniqueTopics, type TestTopics } from '../helpers/kafka.ts'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { startReceiver, type Receiver, type Reply } from '../helpers/receiver.ts'
import { allCommitted, metricValue, startService, testEnv, waitUntil, type RunningService } from '../helpers/service.ts'

const CLIENT_ID = 'notification-service'
const CLIENT_SECRET = 'client-secret-Xy7!'

interface TokenEndpoint {
  readonly url: string
  /** When each token request arrived, and what it carried. */
  readonly requests: Array<{ at: number; body: URLSearchParams; headers: IncomingHttpHeaders }>
  /** Tokens issued, in order (tok-1, tok-2, …). */
  readonly issued: string[]
  failing: boolean
  expiresIn: number
  close(): Promise<void>
}

/** A token endpoint of our own: counts requests, issues tok-<n>, or fails with 500 while `failing`. */
async function startTokenEndpoint(): Promise<TokenEndpoint> {
  const endpoint: TokenEndpoint = { url: '', requests: [], issued: [], failing: false, expiresIn: 3600, close: () => Promise.resolve() }
  const server: Server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      endpoint.requests.push({ at: Date.now(), body: new URLSearchParams(body), headers: request.headers })
      if (endpoint.failing) return response.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}')
      const token = `tok-${endpoint.issued.length + 1}`
      endpoint.issued.push(token)
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, token_type: 'bearer', expires_in: endpoint.expiresIn }))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return Object.assign(endpoint, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  })
}

function oauth2Entry(origin: string, tokenUrl: string, clientAuth: 'client_secret_basic' | 'client_secret_post', scope?: string): Record<string, unknown> {
  return { origin, headers: { 'X-Tenant': 'acme' }, auth: { oauth2_client_credentials: { token_url: tokenUrl, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, client_auth: clientAuth, ...(scope === undefined ? {} : { scope }) } } }
}

async function serviceWith(t: { after(fn: () => Promise<void>): void }, prefix: string, destinations: readonly unknown[], extra: Record<string, string> = {}) {
  const topics = uniqueTopics(prefix)
  const file = destinationsFile(destinations)
  const env = testEnv(topics, { CALLBACK_DESTINATIONS_FILE: file.path, ...extra })
  const service: RunningService = await startService(env)
  t.after(async () => {
    await service.close()
    file.remove()
  })
  return { topics, env, service }
}

async function produceTo(topics: TestTopics, count: number, url: (id: number) => string): Promise<number[]> {
  const ids = Array.from({ length: count }, () => newProcessingId())
  await produce(ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, url(id))) })))
  return ids
}

/** The processing id of a request to …/hook/<id>. */
function idOf(path: string): number {
  return Number(path.split('/').pop())
}

/** An endpoint that answers 2xx only to a request whose bearer token `accepts`, else 401. */
async function guardedEndpoint(accepts: (token: string) => boolean): Promise<Receiver & { delivered: Map<number, number> }> {
  const delivered = new Map<number, number>()
  const receiver = await startReceiver((request): Reply => {
    const token = /^Bearer (\S+)$/.exec(String(request.headers.authorization ?? ''))?.[1]
    if (token === undefined || !accepts(token)) return { status: 401 }
    const id = idOf(request.path)
    delivered.set(id, (delivered.get(id) ?? 0) + 1)
    return { status: 204 }
  })
  return Object.assign(receiver, { delivered })
}

describe('OAuth2 client credentials against a real authorization server (oauth2-mock-server)', () => {
  let idp: OAuth2Server
  let publicKey: KeyObject
  const tokenRequests: Array<{ authorization: string | undefined; body: Record<string, unknown> }> = []

  before(async () => {
    idp = new OAuth2Server()
    await idp.issuer.keys.generate('RS256')
    const [jwk] = idp.issuer.keys.toJSON()
    assert.ok(jwk)
    publicKey = createPublicKey({ key: jwk, format: 'jwk' })
    // The mock does not check client credentials: refuse any request without ours, as a real one would.
    idp.service.on(Events.BeforeResponse, (response: MutableResponse, request: TokenRequestIncomingMessage) => {
      const body = request.body as unknown as Record<string, unknown>
      tokenRequests.push({ authorization: request.headers.authorization, body })
      const basic = Buffer.from(String(request.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8')
      // RFC 6749 §2.3.1: form-urlencoded before base64 ('!' is %21).
      const viaBasic = basic === `${CLIENT_ID}:client-secret-Xy7%21`
      const viaPost = body.client_id === CLIENT_ID && body.client_secret === CLIENT_SECRET
      if (!viaBasic && !viaPost) {
        response.statusCode = 401
        response.body = { error: 'invalid_client' }
      }
    })
    await idp.start(0, '127.0.0.1')
  })

  after(async () => {
    await idp?.stop()
  })

  /** A JWT the mock issued (signature by its key) for the scope asked. */
  function validJwt(token: string, scope: string): boolean {
    const [header, payload, signature] = token.split('.')
    if (header === undefined || payload === undefined || signature === undefined) return false
    if (!verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'))) return false
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { scope?: string; exp?: number }
    return claims.scope === scope && (claims.exp ?? 0) * 1000 > Date.now()
  }

  test('client_secret_basic and client_secret_post: each destination gets its token, the endpoints verify it, other headers of the policy go along', async (t) => {
    const basicEndpoint = await guardedEndpoint((token) => validJwt(token, 'hooks:basic'))
    const postEndpoint = await guardedEndpoint((token) => validJwt(token, 'hooks:post'))
    t.after(() => Promise.all([basicEndpoint.close(), postEndpoint.close()]).then(() => undefined))
    const tokenUrl = `${idp.issuer.url ?? ''}/token`
    const { topics, env, service } = await serviceWith(t, 'oauth2-idp', [oauth2Entry(basicEndpoint.url, tokenUrl, 'client_secret_basic', 'hooks:basic'), oauth2Entry(postEndpoint.url, tokenUrl, 'client_secret_post', 'hooks:post')])
    const basicIds = await produceTo(topics, 10, (id) => `${basicEndpoint.url}/hook/${id}`)
    const postIds = await produceTo(topics, 10, (id) => `${postEndpoint.url}/hook/${id}`)
    await waitUntil(() => basicIds.every((id) => basicEndpoint.delivered.get(id) === 1) && postIds.every((id) => postEndpoint.delivered.get(id) === 1), 30_000, 'all delivered')
    await allCommitted(env)
    assert.ok(basicEndpoint.requests.every((request) => request.headers['x-tenant'] === 'acme'))
    const mine = tokenRequests.filter((request) => request.body.scope === 'hooks:basic' || request.body.scope === 'hooks:post')
    assert.ok(mine.some((request) => request.body.scope === 'hooks:basic' && request.authorization?.startsWith('Basic ') && request.body.client_secret === undefined))
    assert.ok(mine.some((request) => request.body.scope === 'hooks:post' && request.authorization === undefined && request.body.client_secret === CLIENT_SECRET))
    assert.equal(await metricValue(service.app, 'notification_oauth2_token_requests_total', { destination: basicEndpoint.url, result: 'ok' }), 1)
    assert.equal(await metricValue(service.app, 'notification_oauth2_token_requests_total', { destination: postEndpoint.url, result: 'ok' }), 1)
  })
})

describe('OAuth2 token lifecycle against a counting token endpoint', () => {
  let tokens: TokenEndpoint
  before(async () => {
    tokens = await startTokenEndpoint()
  })
  after(() => tokens?.close())

  test('one token request for a burst of 200 notifications; the token cached until shortly before it expires, then fetched again', async (t) => {
    tokens.expiresIn = 12
    const endpoint = await guardedEndpoint((token) => tokens.issued.includes(token))
    t.after(() => endpoint.close())
    const mark = tokens.requests.length
    const { topics, service } = await serviceWith(t, 'oauth2-burst', [oauth2Entry(endpoint.url, tokens.url, 'client_secret_basic')])
    const burst = await produceTo(topics, 200, (id) => `${endpoint.url}/hook/${id}`)
    await waitUntil(() => burst.every((id) => endpoint.delivered.get(id) === 1), 30_000, 'the burst delivered')
    const [first] = tokens.requests.slice(mark)
    assert.ok(first)
    assert.equal(tokens.requests.length - mark, 1, 'one token request for the burst')
    // 12 s tokens are used until a tenth of their life before expiry: 10.8 s after they came.
    await waitUntil(() => Date.now() >= first.at + 11_000, 15_000, 'the cached token past its use')
    const later = await produceTo(topics, 5, (id) => `${endpoint.url}/hook/${id}`)
    await waitUntil(() => later.every((id) => endpoint.delivered.get(id) === 1), 30_000, 'the later ones delivered')
    assert.equal(tokens.requests.length - mark, 2, 'a new token near the expiry of the first')
    assert.equal(await metricValue(service.app, 'notification_oauth2_token_requests_total', { destination: endpoint.url, result: 'ok' }), 2)
  })

  test('the endpoint rotates its token (the old one answered 401): every notification still delivered exactly once', async (t) => {
    tokens.expiresIn = 3600
    let revoked = new Set<string>()
    const endpoint = await guardedEndpoint((token) => tokens.issued.includes(token) && !revoked.has(token))
    t.after(() => endpoint.close())
    const { topics, env, service } = await serviceWith(t, 'oauth2-rotate', [oauth2Entry(endpoint.url, tokens.url, 'client_secret_post')])
    const ids = await produceTo(topics, 50, (id) => `${endpoint.url}/hook/${id}`)
    await waitUntil(() => endpoint.delivered.size >= 10, 30_000, 'some delivered with the first token')
    revoked = new Set(tokens.issued)
    const more = await produceTo(topics, 50, (id) => `${endpoint.url}/hook/${id}`)
    const all = [...ids, ...more]
    await waitUntil(() => all.every((id) => endpoint.delivered.has(id)), 30_000, 'all delivered')
    await allCommitted(env)
    assert.deepEqual(all.filter((id) => endpoint.delivered.get(id) !== 1), [], 'one 2xx per processing id')
    assert.ok(endpoint.requests.some((request) => revoked.has(String(request.headers.authorization).replace('Bearer ', ''))), 'the old token was refused at least once')
    assert.equal(await metricValue(service.app, 'notifications_dead_lettered_total'), 0)
    assert.ok((await metricValue(service.app, 'notification_oauth2_token_requests_total', { destination: endpoint.url, result: 'ok' })) >= 2)
  })

  test('a failing token endpoint: no callback sent without a token (DELIVERY_AUTH_TOKEN, the metric), the burst does not hammer it; delivered once it recovers', async (t) => {
    tokens.failing = true
    t.after(() => (tokens.failing = false))
    const endpoint = await guardedEndpoint((token) => tokens.issued.includes(token))
    t.after(() => endpoint.close())
    const mark = tokens.requests.length
    const { topics, env, service } = await serviceWith(t, 'oauth2-failing', [oauth2Entry(endpoint.url, tokens.url, 'client_secret_basic')], { RETRY_SCHEDULE: '1s,1s,2s,3s,5s' })
    const ids = await produceTo(topics, 30, (id) => `${endpoint.url}/hook/${id}`)
    const failedAttempts = () => metricValue(service.app, 'notification_attempts_total', { result: ErrorCodes.DELIVERY_AUTH_TOKEN })
    await waitUntil(async () => (await failedAttempts()) >= 30, 20_000, 'every notification failed its first attempt for want of a token')
    assert.equal(endpoint.requests.length, 0, 'nothing sent without a token')
    assert.ok((await metricValue(service.app, 'notification_oauth2_token_requests_total', { destination: endpoint.url, result: 'refused' })) >= 1)
    assert.ok(tokens.requests.length - mark < 30 / 2, `${tokens.requests.length - mark} token requests for 30 failed attempts`)
    tokens.failing = false
    await waitUntil(() => ids.every((id) => endpoint.delivered.get(id) === 1), 30_000, 'delivered once the token endpoint recovered')
    await allCommitted(env)
    assert.deepEqual(ids.filter((id) => endpoint.delivered.get(id) !== 1), [])
    assert.equal(endpoint.requests.filter((request) => request.headers.authorization === undefined).length, 0)
  })
})
