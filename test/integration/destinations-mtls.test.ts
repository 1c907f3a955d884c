// Destinations with TLS material (CALLBACK_DESTINATIONS_FILE tls: ca_file, cert_file,
// key_file) against real HTTPS servers with a private CA made by openssl: mutual TLS,
// directly and through a real CONNECT proxy (tinyproxy); connections kept per origin, so a
// client certificate, header or credential never reaches another origin; Agents of
// reloaded-away policies closed. First the HTTP client alone, then the whole service
// (Kafka, Redis) configured through a YAML file.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AddressGuard } from '../../src/delivery/address-guard.ts'
import { CallbackClient, type CallbackClientOptions } from '../../src/delivery/http-client.ts'
import type { AttemptOutcome } from '../../src/delivery/transport.ts'
import { ErrorCodes } from '../../src/errors.ts'
import type { Notification } from '../../src/notifications/payload.ts'
import { destinationsFile, testLookup, type TestLookup } from '../helpers/destinations.ts'
import { produce, uniqueTopics } from '../helpers/kafka.ts'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { startReceiver } from '../helpers/receiver.ts'
import { allCommitted, metricValue, startService, testEnv, waitUntil, type RunningService } from '../helpers/service.ts'
import { startTinyproxy, type Tinyproxy } from '../helpers/tinyproxy.ts'
import { makeTestPki, type TestPki } from '../helpers/tls.ts'
import { startTlsReceiver, type TlsReceiver } from '../helpers/tls-receiver.ts'

let pki: TestPki
/** Requires a client certificate signed by the test CA. */
let mtls: TlsReceiver
/** Asks for a client certificate, does not require one: shows whether one was presented. */
let asking: TlsReceiver
let proxy: Tinyproxy

before(async () => {
  pki = makeTestPki('destinations-mtls-')
  mtls = await startTlsReceiver(pki, { requireClientCertificate: true })
  asking = await startTlsReceiver(pki, { requireClientCertificate: false })
  proxy = await startTinyproxy()
})

after(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)))
  await mtls?.close()
  await asking?.close()
  await proxy?.close()
  pki?.remove()
})

const clients: CallbackClient[] = []

function client(destinations: TestLookup, options: Partial<CallbackClientOptions> = {}): CallbackClient {
  const created = new CallbackClient({ timeoutMs: 3000, connectionsPerOrigin: 4, maxResponseBytes: 64 * 1024, secrets: [], guard: new AddressGuard(['127.0.0.0/8', '::1/128']), destinations, ...options })
  clients.push(created)
  return created
}

let nextId = 1
function notification(callbackUrl: string): Notification {
  const processingId = nextId++
  return { kind: 'result', processingId, webhookId: `processing_${processingId}`, callbackUrl, body: '{}', isError: false }
}

/** The mTLS destination: its CA, the client certificate, a header and a bearer token. */
function mtlsEntry(origin: string): Record<string, unknown> {
  return { origin, headers: { 'X-Api-Key': 'key-for-mtls-only' }, auth: { bearer: 'token-for-mtls-only' }, tls: { ca_file: pki.ca.file, cert_file: pki.client.certFile, key_file: pki.client.keyFile } }
}

function assertOk(outcome: AttemptOutcome): void {
  assert.equal(outcome.ok, true, JSON.stringify(outcome))
}

describe('the HTTP client with destination TLS', () => {
  test('mutual TLS: the policy\'s client certificate is presented, its CA trusted, its header and bearer token sent', async () => {
    const origin = `https://127.0.0.1:${mtls.port}`
    const outcome = await client(testLookup([mtlsEntry(origin)])).send(notification(`${origin}/hooks/a`))
    assertOk(outcome)
    const [request] = await mtls.waitFor(1, 5000, (seen) => seen.path === '/hooks/a')
    assert.equal(request?.clientCertificate, 'notification-service')
    assert.equal(request?.headers['x-api-key'], 'key-for-mtls-only')
    assert.equal(request?.headers.authorization, 'Bearer token-for-mtls-only')
  })

  test('without the policy: a TLS failure (the private CA is not trusted), nothing received', async () => {
    const before = mtls.requests.length
    const outcome = await client(testLookup([])).send(notification(`https://127.0.0.1:${mtls.port}/hooks/none`))
    assert.equal(outcome.ok, false)
    assert.equal(outcome.answer, 'tlsFailure', JSON.stringify(outcome))
    assert.equal(outcome.ok ? undefined : outcome.error.code, ErrorCodes.DELIVERY_NETWORK)
    assert.equal(mtls.requests.length, before)
  })

  test('the CA alone (no client certificate): the endpoint that requires one refuses the connection', async () => {
    const origin = `https://127.0.0.1:${mtls.port}`
    const outcome = await client(testLookup([{ origin, tls: { ca_file: pki.ca.file } }])).send(notification(`${origin}/hooks/no-cert`))
    assert.equal(outcome.ok, false, JSON.stringify(outcome))
    assert.ok(['tlsFailure', 'reset'].includes(outcome.answer), outcome.answer)
    assert.equal(mtls.requests.filter((seen) => seen.path === '/hooks/no-cert').length, 0)
  })

  test('another origin, served by the same client: no client certificate, no Authorization, no header of the mTLS destination', async () => {
    const mtlsOrigin = `https://127.0.0.1:${mtls.port}`
    const other = `https://localhost:${asking.port}`
    const sender = client(testLookup([mtlsEntry(mtlsOrigin), { origin: other, tls: { ca_file: pki.ca.file } }]))
    for (let i = 0; i < 5; i++) {
      assertOk(await sender.send(notification(`${mtlsOrigin}/interleaved/${i}`)))
      assertOk(await sender.send(notification(`${other}/interleaved/${i}`)))
    }
    const seen = await asking.waitFor(5, 5000, (request) => request.path.startsWith('/interleaved/'))
    for (const request of seen) {
      assert.equal(request.clientCertificate, undefined)
      assert.equal(request.headers.authorization, undefined)
      assert.equal(request.headers['x-api-key'], undefined)
    }
  })

  test('one policy for every origin ("*"): each origin has its own connections, none carries another origin\'s request', async () => {
    const sender = client(testLookup([{ origin: '*', tls: { ca_file: pki.ca.file, cert_file: pki.client.certFile, key_file: pki.client.keyFile } }]))
    const origins = [`https://localhost:${asking.port}`, `https://127.0.0.1:${asking.port}`]
    const sends: Array<Promise<AttemptOutcome>> = []
    for (let i = 0; i < 20; i++) for (const origin of origins) sends.push(sender.send(notification(`${origin}/star/${i}`)))
    for (const outcome of await Promise.all(sends)) assertOk(outcome)
    const seen = asking.requests.filter((request) => request.path.startsWith('/star/'))
    assert.equal(seen.length, 40)
    const hostsByConnection = new Map<number, Set<string>>()
    for (const request of seen) hostsByConnection.set(request.connection, (hostsByConnection.get(request.connection) ?? new Set()).add(request.host))
    for (const [connection, hosts] of hostsByConnection) assert.equal(hosts.size, 1, `connection ${connection} carried ${[...hosts].join(', ')}`)
    assert.ok(hostsByConnection.size >= 2)
    assert.ok(seen.every((request) => request.clientCertificate === 'notification-service'))
  })

  test('through the CONNECT proxy: mutual TLS inside the tunnel to the checked address; without the policy a TLS failure', async () => {
    const origin = `https://localhost:${mtls.port}`
    const settings = { proxy: { host: '127.0.0.1', port: proxy.port, username: undefined, password: undefined } }
    const mark = proxy.connects().length
    assertOk(await client(testLookup([mtlsEntry(origin)]), settings).send(notification(`${origin}/proxied`)))
    const [request] = await mtls.waitFor(1, 5000, (seen) => seen.path === '/proxied')
    assert.equal(request?.clientCertificate, 'notification-service')
    assert.equal(request?.headers.authorization, 'Bearer token-for-mtls-only')
    assert.deepEqual(proxy.connects().slice(mark), [`127.0.0.1:${mtls.port}`])
    const refused = await client(testLookup([]), settings).send(notification(`${origin}/proxied-without`))
    assert.equal(refused.answer, 'tlsFailure', JSON.stringify(refused))
    // The address guard still judges the target through the proxy, policy or not.
    const blocked = await client(testLookup([mtlsEntry(origin)]), { ...settings, guard: new AddressGuard([]) }).send(notification(`${origin}/blocked`))
    assert.equal(blocked.answer, 'blockedAddress')
  })

  test("an OAuth2 token endpoint on the destination's private PKI: trusted through its CA (added to the system roots), never shown the client certificate; directly and through the proxy", async (t) => {
    const idp = await startTlsReceiver(pki, { requireClientCertificate: false })
    t.after(() => idp.close())
    idp.json = { access_token: 'pki-token', token_type: 'Bearer', expires_in: 300 }
    const origin = `https://127.0.0.1:${mtls.port}`
    const entry = { ...mtlsEntry(origin), auth: { oauth2_client_credentials: { token_url: `https://localhost:${idp.port}/token`, client_id: 'notify', client_secret: 'pki-secret' } } }
    const mark = proxy.connects().length
    for (const options of [{}, { proxy: { host: '127.0.0.1', port: proxy.port, username: undefined, password: undefined } }]) {
      const results: string[] = []
      const sender = client(testLookup([entry]), { ...options, onTokenRequest: (_destination, result) => results.push(result) })
      assertOk(await sender.send(notification(`${origin}/pki-token`)))
      assert.deepEqual(results, ['ok'])
    }
    assert.equal(idp.requests.length, 2)
    assert.ok(proxy.connects().slice(mark).includes(`127.0.0.1:${idp.port}`), 'the token request went through the proxy too')
    assert.ok(idp.requests.every((request) => request.clientCertificate === undefined && request.path === '/token'))
    const delivered = mtls.requests.filter((request) => request.path === '/pki-token')
    assert.equal(delivered.length, 2)
    assert.ok(delivered.every((request) => request.headers.authorization === 'Bearer pki-token' && request.clientCertificate === 'notification-service'))
  })

  test('reloads: the Agent of a policy no longer in force is closed (its connections too), 30 reloads leave one', async () => {
    const origin = `https://127.0.0.1:${asking.port}`
    const entry = { origin, tls: { ca_file: pki.ca.file, cert_file: pki.client.certFile, key_file: pki.client.keyFile } }
    const lookup = testLookup([entry])
    const sender = client(lookup)
    const acceptedBefore = asking.accepted
    for (let i = 0; i < 30; i++) {
      lookup.replace([{ ...entry, headers: { 'X-Version': String(i) } }])
      assertOk(await sender.send(notification(`${origin}/reload/${i}`)))
      assert.equal(sender.destinationAgents, 1)
    }
    assert.equal(asking.accepted - acceptedBefore, 30, 'a new policy, a new connection: none reused across policies')
    await waitUntil(async () => (await asking.openConnections()) <= 1, 5000, 'connections of closed Agents closed')
    lookup.replace([])
    // The next attempt, to any origin, sees the new set: the last policy's Agent goes too.
    await sender.send(notification(`${origin}/after`))
    assert.equal(sender.destinationAgents, 0)
  })
})

/** Produces one result per callback URL; returns the processing ids in the same order. */
async function produceResults(topics: ReturnType<typeof uniqueTopics>, urls: ReadonlyArray<(id: number) => string>): Promise<number[]> {
  const ids = urls.map(() => newProcessingId())
  await produce(ids.map((id, i) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, urls[i]?.(id))) })))
  return ids
}

/** The service, configured through a YAML destinations file, closed (and the file removed) after the test. */
async function serviceWith(t: { after(fn: () => Promise<void>): void }, prefix: string, destinations: readonly unknown[] | undefined, extra: Record<string, string> = {}) {
  const topics = uniqueTopics(prefix)
  const file = destinations === undefined ? undefined : destinationsFile(destinations)
  const env = testEnv(topics, { ...(file === undefined ? {} : { CALLBACK_DESTINATIONS_FILE: file.path }), ...extra })
  const service: RunningService = await startService(env)
  t.after(async () => {
    await service.close()
    file?.remove()
  })
  return { topics, env, service }
}

describe('the service with a destinations file (Kafka, Redis, YAML file)', () => {
  test('mutual TLS delivered; a second HTTPS origin (CA only) and a plain HTTP origin without a policy see no client certificate, no Authorization, no header of it', async (t) => {
    const plain = await startReceiver()
    t.after(() => plain.close())
    const mtlsOrigin = `https://127.0.0.1:${mtls.port}`
    const otherOrigin = `https://localhost:${asking.port}`
    const { topics } = await serviceWith(t, 'dest-mtls', [mtlsEntry(mtlsOrigin), { origin: otherOrigin, tls: { ca_file: pki.ca.file } }])
    const urls = Array.from({ length: 10 }, () => [(id: number) => `${mtlsOrigin}/svc/${id}`, (id: number) => `${otherOrigin}/svc/${id}`, (id: number) => `${plain.url}/svc/${id}`]).flat()
    const ids = await produceResults(topics, urls)
    const mine = (path: string) => ids.some((id) => path === `/svc/${id}`)
    const viaMtls = await mtls.waitFor(10, 30_000, (request) => mine(request.path))
    const viaOther = await asking.waitFor(10, 30_000, (request) => mine(request.path))
    const viaPlain = await plain.waitFor(10, 30_000, (request) => mine(request.path))
    for (const request of viaMtls) {
      assert.equal(request.clientCertificate, 'notification-service')
      assert.equal(request.headers['x-api-key'], 'key-for-mtls-only')
      assert.equal(request.headers.authorization, 'Bearer token-for-mtls-only')
    }
    for (const request of [...viaOther, ...viaPlain]) {
      assert.equal(request.headers.authorization, undefined)
      assert.equal(request.headers['x-api-key'], undefined)
    }
    assert.ok(viaOther.every((request) => request.clientCertificate === undefined))
  })

  test('without the file: the mTLS endpoint is a TLS failure (DELIVERY_NETWORK), never reached', async (t) => {
    const { topics, service } = await serviceWith(t, 'dest-mtls-none', undefined, { RETRY_SCHEDULE: '5s' })
    const before = mtls.requests.length
    await produceResults(topics, [(id) => `https://127.0.0.1:${mtls.port}/svc-none/${id}`])
    await waitUntil(async () => (await metricValue(service.app, 'notification_attempts_total', { result: ErrorCodes.DELIVERY_NETWORK })) >= 1, 20_000, 'a failed attempt')
    assert.equal(mtls.requests.length, before)
    assert.equal(await metricValue(service.app, 'notification_attempts_total', { result: 'ok' }), 0)
  })

  test('through CALLBACK_PROXY_URL (tinyproxy): mutual TLS inside the tunnel, every notification delivered once', async (t) => {
    const origin = `https://localhost:${mtls.port}`
    const mark = proxy.connects().length
    const { topics, env } = await serviceWith(t, 'dest-mtls-proxy', [mtlsEntry(origin)], { CALLBACK_PROXY_URL: proxy.url })
    const ids = await produceResults(topics, Array.from({ length: 20 }, () => (id: number) => `${origin}/svc-proxy/${id}`))
    const seen = await mtls.waitFor(20, 30_000, (request) => ids.some((id) => request.path === `/svc-proxy/${id}`))
    assert.ok(seen.every((request) => request.clientCertificate === 'notification-service'))
    await allCommitted(env)
    assert.equal(mtls.requests.filter((request) => ids.some((id) => request.path === `/svc-proxy/${id}`)).length, 20, 'once each')
    const tunnels = proxy.connects().slice(mark)
    assert.ok(tunnels.length >= 1 && tunnels.every((target) => target === `127.0.0.1:${mtls.port}`), tunnels.join(', '))
  })
})
