// Contract §4 Destinations: "Secrets from the file never appear in logs, metrics, traces, dead
// letters, outcome records, the admin API or the dashboard." The real service (src/main.ts as a
// child process, LOG_LEVEL=trace, spans exported to a real OTLP/HTTP receiver) with a
// destinations file full of distinctive secrets: a header value and a bearer token on an
// mTLS destination (its client key a secret too), an OAuth2 client secret on another (a real
// token endpoint that fails once; the access tokens it issues are secrets too), a basic
// password on a third. Deliveries succeed and fail (a 500 that ends in the dead-letter topic,
// 401s, the token endpoint down once); the file is reloaded (applied, then refused). Then
// every place the contract names is searched for every secret.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Admin, ListOffsetTimestamps } from '@platformatic/kafka'
import { chromium } from 'playwright-core'
import { retryTiers } from '../../src/names.ts'
import { parseDuration } from '../../src/lib/duration.ts'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { BROKERS, produce, readTopic, uniqueTopics } from '../helpers/kafka.ts'
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { allCommitted, freePort, spawnService, testEnv, waitUntil } from '../helpers/service.ts'
import { makeTestPki, type TestPki } from '../helpers/tls.ts'
import { startTokenServer, type TokenServer } from '../helpers/token-server.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ADMIN_TOKEN = 'secrets-test-admin-token-0123456789'
const secret = (label: string) => `${label}-${randomBytes(10).toString('hex')}`
const SECRETS = {
  header: secret('hdr-value'),
  bearer: secret('bearer-token'),
  password: secret('basic-password'),
  clientSecret: secret('client-secret'),
  rotatedHeader: secret('rotated-hdr-value'),
  refused: secret('refused-file-value'),
}
const CLIENT_ID = 'notifications-secrets-test'

interface Recorded {
  path: string
  headers: IncomingHttpHeaders
  /** mTLS: the client certificate checked out against the CA. */
  authorized: boolean
}

let pki: TestPki
let dir: string
let tokens: TokenServer
let mtls: { server: HttpsServer; origin: string; requests: Recorded[] }
let oauthReceiver: Receiver
let basicReceiver: Receiver
let otlp: OtlpReceiver

/** An HTTPS endpoint that demands a client certificate from the test CA: /fail/ answers 500, the rest 200. */
async function startMtlsEndpoint(): Promise<typeof mtls> {
  const requests: Recorded[] = []
  const server = createHttpsServer({ key: pki.server.key, cert: pki.server.cert, ca: pki.ca.pem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    req.resume()
    req.on('end', () => {
      requests.push({ path: req.url ?? '/', headers: req.headers, authorized: (req.socket as { authorized?: boolean }).authorized === true })
      res.writeHead(req.url?.startsWith('/fail/') ? 500 : 200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

function destinationsYaml(version: 'first' | 'rotated' | 'refused'): string {
  const rotated = version === 'first' ? '' : `\n      X-Rotated: \${file:${join(dir, 'rotated-header')}}`
  // Authorization is reserved where auth is set: the loader must refuse this file, without quoting the value.
  const refused = version === 'refused' ? `\n      Authorization: ${SECRETS.refused}` : ''
  return `destinations:
  - origin: ${mtls.origin}
    headers:
      X-Api-Key: \${env:SECRETS_TEST_HEADER}${rotated}${refused}
    auth:
      bearer: \${env:SECRETS_TEST_BEARER}
    tls:
      ca_file: ${pki.ca.file}
      cert_file: ${pki.client.certFile}
      key_file: ${pki.client.keyFile}
    timeout_ms: 3000
  - origin: ${oauthReceiver.url}
    auth:
      oauth2_client_credentials:
        token_url: ${tokens.tokenUrl}
        client_id: ${CLIENT_ID}
        client_secret: \${file:${join(dir, 'client-secret')}}
        scope: webhooks:write
        client_auth: client_secret_post
  - origin: ${basicReceiver.url}
    auth:
      basic:
        username: notify
        password: \${env:SECRETS_TEST_PASSWORD}
    rate_limit: 50/s
    max_connections: 8
`
}

/** As Kubernetes updates a mounted ConfigMap: a new file renamed over the old one. */
function writeDestinations(version: 'first' | 'rotated' | 'refused'): string {
  const file = join(dir, 'destinations.yaml')
  writeFileSync(`${file}.tmp`, destinationsYaml(version))
  renameSync(`${file}.tmp`, file)
  return file
}

/** The strings that must appear nowhere: each secret, every access token issued, the client key's base64 lines. */
function forbidden(): Array<[string, string]> {
  const keyLines = pki.client.key.toString('utf8').split('\n').filter((line) => line.length >= 16 && !line.startsWith('-----'))
  const keyBody = keyLines.join('')
  return [
    ...Object.entries(SECRETS),
    ...tokens.issued.map((token, i): [string, string] => [`access token ${i}`, token]),
    ...keyLines.map((line, i): [string, string] => [`client key line ${i}`, line]),
    ['client key body', keyBody],
  ]
}

function assertNoSecret(where: string, text: string): void {
  for (const [name, value] of forbidden()) {
    const at = text.indexOf(value)
    assert.equal(at, -1, `${name} appears in ${where}: …${text.slice(Math.max(at - 200, 0), at + value.length + 50)}…`)
  }
}

/** Every record of a topic now (its end offsets summed, then read up to that many). */
async function wholeTopic(topic: string): Promise<string> {
  const admin = new Admin({ clientId: 'secrets-test-offsets', bootstrapBrokers: BROKERS })
  let total = 0
  try {
    const metadata = await admin.metadata({ topics: [topic] })
    const partitions = Array.from({ length: metadata.topics.get(topic)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST }))
    const [ends] = await admin.listOffsets({ topics: [{ name: topic, partitions }] })
    for (const partition of ends?.partitions ?? []) total += Number(partition.offset)
  } finally {
    await admin.close()
  }
  const records = total === 0 ? [] : await readTopic(topic, total, 30_000)
  assert.equal(records.length, total, `read all of ${topic}`)
  return records.map((record) => JSON.stringify({ key: record.key, value: record.value, headers: Object.fromEntries(record.headers) })).join('\n')
}

before(async () => {
  pki = makeTestPki('secrets-test-pki-')
  dir = mkdtempSync(join(tmpdir(), 'secrets-test-'))
  writeFileSync(join(dir, 'client-secret'), `${SECRETS.clientSecret}\n`)
  writeFileSync(join(dir, 'rotated-header'), SECRETS.rotatedHeader)
  tokens = await startTokenServer({ id: CLIENT_ID, secret: SECRETS.clientSecret, expiresInSeconds: 300 })
  mtls = await startMtlsEndpoint()
  // /unauth/ answers 401 to its first request (the token is dropped), then 200.
  oauthReceiver = await startReceiver((request) => ({ status: request.path.startsWith('/unauth/') && !oauthReceiver.requests.some((seen) => seen.path === request.path) ? 401 : 200 }))
  // /deny/ always answers 401.
  basicReceiver = await startReceiver((request) => ({ status: request.path.startsWith('/deny/') ? 401 : 200 }))
  otlp = await startOtlpReceiver()
})

after(async () => {
  mtls?.server.closeAllConnections()
  mtls?.server.close()
  await Promise.all([tokens?.close(), oauthReceiver?.close(), basicReceiver?.close(), otlp?.close()])
  pki?.remove()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

interface Service {
  child: ChildProcess
  base: string
  output: () => string
  get(path: string, auth?: boolean): Promise<string>
}

async function startChild(env: Record<string, string>): Promise<Service> {
  const port = await freePort()
  const child = spawnService({ ...env, HTTP_PORT: String(port) })
  const chunks: Buffer[] = []
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk))
  child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk))
  const base = `http://127.0.0.1:${port}`
  const output = () => Buffer.concat(chunks).toString('utf8')
  await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`the service exited at start (${child.exitCode}): ${output()}`)
    return (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200
  }, 60_000, 'service ready')
  return {
    child,
    base,
    output,
    async get(path, auth = true) {
      const response = await fetch(`${base}${path}`, auth ? { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } } : {})
      assert.equal(response.status, 200, `GET ${path}`)
      return response.text()
    },
  }
}

type DestinationsAnswer = { last_reload: { at: string; applied: boolean; problem?: string } | null; destinations: Array<{ pattern: string; headers: Record<string, string> }> }

describe('destination secrets', () => {
  test('appear in no log, metric, span, dead letter, outcome record, admin answer or dashboard page', { timeout: 240_000 }, async () => {
    const topics = uniqueTopics('secrets')
    const env = testEnv(topics, {
      // A failed token request is remembered for 1 s: the third attempt comes after that and fetches a token.
      RETRY_SCHEDULE: '300ms,1200ms,1200ms',
      LOG_LEVEL: 'trace',
      ADMIN_TOKEN,
      CALLBACK_DESTINATIONS_FILE: writeDestinations('first'),
      SECRETS_TEST_HEADER: SECRETS.header,
      SECRETS_TEST_BEARER: SECRETS.bearer,
      SECRETS_TEST_PASSWORD: SECRETS.password,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_SERVICE_NAME: 'notification-service-secrets-test',
    })
    tokens.failNext(1)
    const service = await startChild(env)
    const send = (id: number, url: string) => produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, url)) }])
    const destinations = async () => JSON.parse(await service.get('/admin/destinations')) as DestinationsAnswer
    let stopped = false
    try {
      const ids = { mtlsOk: newProcessingId(), mtlsFail: newProcessingId(), oauthOk: newProcessingId(), oauth401: newProcessingId(), basicOk: newProcessingId(), basicDenied: newProcessingId() }
      await send(ids.oauthOk, `${oauthReceiver.url}/ok/${ids.oauthOk}`)
      await send(ids.oauth401, `${oauthReceiver.url}/unauth/${ids.oauth401}`)
      await send(ids.mtlsOk, `${mtls.origin}/ok/${ids.mtlsOk}`)
      await send(ids.mtlsFail, `${mtls.origin}/fail/${ids.mtlsFail}`)
      await send(ids.basicOk, `${basicReceiver.url}/ok/${ids.basicOk}`)
      await send(ids.basicDenied, `${basicReceiver.url}/deny/${ids.basicDenied}`)
      await allCommitted(env, 90_000)

      // The secrets went where they belong, so their absence elsewhere means something.
      const mtlsOk = mtls.requests.find((request) => request.path === `/ok/${ids.mtlsOk}`)
      assert.ok(mtlsOk?.authorized, 'the client certificate was presented')
      assert.equal(mtlsOk.headers['x-api-key'], SECRETS.header)
      assert.equal(mtlsOk.headers.authorization, `Bearer ${SECRETS.bearer}`)
      assert.ok(mtls.requests.filter((request) => request.path === `/fail/${ids.mtlsFail}`).length >= 2, 'the 500 was retried')
      assert.equal(tokens.requests[0]?.status, 503, 'the token endpoint failed once')
      assert.ok(tokens.issued.length >= 2, 'a token, then another after the 401')
      assert.ok(tokens.requests.filter((request) => request.status === 200).every((request) => request.secretMatched))
      const delivered = oauthReceiver.requests.filter((request) => request.path === `/ok/${ids.oauthOk}`)
      assert.ok(delivered.length >= 1 && tokens.issued.some((token) => delivered[0]?.headers.authorization === `Bearer ${token}`))
      assert.equal(oauthReceiver.requests.filter((request) => request.path === `/unauth/${ids.oauth401}`).length, 2, '401, then 200 with a new token')
      assert.equal(basicReceiver.requests.find((request) => request.path === `/ok/${ids.basicOk}`)?.headers.authorization, `Basic ${Buffer.from(`notify:${SECRETS.password}`).toString('base64')}`)

      // A valid new file applies (SIGHUP, and the file changed); then an invalid one is refused and the previous stays.
      writeDestinations('rotated')
      service.child.kill('SIGHUP')
      await waitUntil(async () => (await destinations()).destinations[0]?.headers['X-Rotated'] !== undefined, 20_000, 'the rotated file applied')
      const afterReload = newProcessingId()
      await send(afterReload, `${mtls.origin}/ok/${afterReload}`)
      writeDestinations('refused')
      service.child.kill('SIGHUP')
      await waitUntil(async () => (await destinations()).last_reload?.applied === false, 20_000, 'the invalid file refused')
      const afterRefused = newProcessingId()
      await send(afterRefused, `${mtls.origin}/ok/${afterRefused}`)
      await allCommitted(env, 60_000)
      for (const id of [afterReload, afterRefused]) assert.equal(mtls.requests.find((request) => request.path === `/ok/${id}`)?.headers['x-rotated'], SECRETS.rotatedHeader, `${id}: the rotated file in force`)

      // The admin API, the metrics and the dashboard while the service runs.
      const answers: Array<[string, string]> = []
      for (const path of ['/admin/destinations', '/admin/activity', '/admin/dead-letters', '/admin/origins']) answers.push([path, await service.get(path)])
      for (const id of [...Object.values(ids), afterReload, afterRefused]) answers.push([`/notifications/${id}`, await service.get(`/notifications/${id}`)])
      answers.push(['/metrics', await service.get('/metrics', false)])
      const view = JSON.parse(answers[0]![1]) as DestinationsAnswer
      assert.equal(view.destinations.length, 3)
      assert.match(view.last_reload?.problem ?? '', /Authorization/, 'the refusal names the field')
      assert.match(answers.find(([path]) => path === '/admin/dead-letters')?.[1] ?? '', new RegExp(String(ids.mtlsFail)), 'the 500 was dead-lettered')
      for (const [path, body] of answers) assertNoSecret(`GET ${path}`, body)
      for (const [name, text] of await dashboardText(service.base)) assertNoSecret(`the dashboard (${name})`, text)

      // The topics: dead letters, outcomes, and the retry tiers on the way.
      const tiers = retryTiers(topics.KAFKA_GROUP_ID, (env.RETRY_SCHEDULE ?? '').split(',').map((delay) => parseDuration(delay) ?? 0))
      const deadLetters = await wholeTopic(topics.KAFKA_TOPIC_DLQ)
      assert.match(deadLetters, new RegExp(String(ids.mtlsFail)))
      assertNoSecret('the dead-letter topic', deadLetters)
      const outcomes = await wholeTopic(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS)
      assert.match(outcomes, new RegExp(String(ids.oauthOk)))
      assertNoSecret('the outcome topic', outcomes)
      for (const tier of tiers) assertNoSecret(`retry tier ${tier.topic}`, await wholeTopic(tier.topic))

      // Stopped (SIGTERM flushes the last spans and log lines): the logs, the output and the spans.
      service.child.kill('SIGTERM')
      const [code] = (await once(service.child, 'exit')) as [number | null]
      stopped = true
      assert.equal(code, 0)
      const logs = readdirSync(env.LOG_DIR!).map((name) => readFileSync(join(env.LOG_DIR!, name), 'utf8')).join('\n')
      // LOG_LEVEL=trace: every line the service writes (it has none below debug today).
      assert.match(logs, /"level":20/, 'debug lines were written')
      assert.match(logs, new RegExp(String(ids.mtlsFail)), 'the failures were logged')
      assertNoSecret('the log files', logs)
      assertNoSecret('stdout and stderr', service.output())
      const spans = otlp.requests.map((request) => request.body.toString('utf8')).join('\n')
      assert.ok(otlp.spans.some((span) => JSON.stringify(span.attributes).includes(mtls.origin.replace('https://', ''))), 'spans of the deliveries were exported')
      assertNoSecret('the exported spans', spans)
    } finally {
      if (!stopped) {
        service.child.kill('SIGTERM')
        await once(service.child, 'exit')
      }
    }
  })
})

/** The dashboard page signed in, once its destinations, dead letters and attempts are shown: its text and its HTML. */
async function dashboardText(base: string): Promise<Array<[string, string]>> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
    await page.goto(`${base}/dashboard`)
    await page.fill('#token', ADMIN_TOKEN)
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#connection.live')
    await waitUntil(async () => (await page.locator('#destinations tbody tr').count()) === 3, 15_000, 'destinations shown')
    await page.locator('#dead-letters tbody tr').first().waitFor({ timeout: 15_000 })
    await page.locator('#recent tbody tr').first().waitFor({ timeout: 15_000 })
    const text = await page.innerText('body')
    assert.match(text, /oauth2_client_credentials|OAuth2/)
    assert.match(text, /X-Api-Key/)
    return [
      ['rendered text', text],
      ['HTML', await page.content()],
    ]
  } finally {
    await browser.close()
  }
}
