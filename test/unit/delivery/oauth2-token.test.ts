// The token cache against a real local token endpoint (node:http): one request per burst,
// expiry margin, 401 drops only the token used, failures remembered briefly, garbage refused.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach, describe, it } from 'node:test'
import { Agent } from 'undici'
import { DEFAULT_TOKEN_LIFETIME_MS, FAILURE_MEMORY_MS, OAuth2Tokens } from '../../../src/delivery/oauth2-token.ts'
import { TokenRequestError, type OAuth2Auth, type TokenRequestResult } from '../../../src/delivery/oauth2-token-request.ts'
import type { DestinationPolicy } from '../../../src/destinations/policy.ts'
import { destinationPolicy } from '../../helpers/destinations.ts'

const SECRET = 'the-client-secret-Zq9'
let server: Server
let tokenUrl = ''
let requests: Array<{ headers: IncomingMessage['headers']; body: string }> = []
let answer: (response: ServerResponse, index: number) => void = () => undefined
const agent = new Agent()

before(async () => {
  server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      requests.push({ headers: request.headers, body })
      answer(response, requests.length)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`
})

after(async () => {
  await agent.close()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  requests = []
  answer = tokenAnswer(3600)
})

function tokenAnswer(expiresIn: number | undefined, prefix = 'at'): (response: ServerResponse, index: number) => void {
  return (response, index) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `${prefix}-${index}`, token_type: 'Bearer', ...(expiresIn === undefined ? {} : { expires_in: expiresIn }) }))
}

function oauth2Policy(clientAuth: 'client_secret_basic' | 'client_secret_post' = 'client_secret_basic'): { policy: DestinationPolicy; auth: OAuth2Auth } {
  const policy = destinationPolicy({ origin: 'https://hooks.acme.example', auth: { oauth2_client_credentials: { token_url: tokenUrl, client_id: 'notify', client_secret: SECRET, client_auth: clientAuth, scope: 'hooks' } } })
  assert.equal(policy.auth?.kind, 'oauth2_client_credentials')
  return { policy, auth: policy.auth }
}

function tokens(clock: { now: number } = { now: Date.now() }) {
  const counted: Array<[string, TokenRequestResult]> = []
  const source = new OAuth2Tokens({ dispatcherFor: () => agent, onRequest: (destination, result) => counted.push([destination, result]), now: () => clock.now })
  return { source, counted, clock }
}

/** What is left of an attempt's time: not a whole number of ms, as Attempt.remainingMs gives it. */
const far = () => 4999.5

describe('OAuth2Tokens', () => {
  it('client_secret_basic and client_secret_post reach the token endpoint as RFC 6749 §2.3.1 says', async () => {
    const { source } = tokens()
    const basic = oauth2Policy('client_secret_basic')
    await source.token(basic.policy, basic.auth, far())
    const post = oauth2Policy('client_secret_post')
    await source.token(post.policy, post.auth, far())
    const [first, second] = requests
    assert.equal(first?.headers.authorization, `Basic ${Buffer.from(`notify:${SECRET}`).toString('base64')}`)
    assert.deepEqual(Object.fromEntries(new URLSearchParams(first?.body)), { grant_type: 'client_credentials', scope: 'hooks' })
    assert.equal(second?.headers.authorization, undefined)
    assert.deepEqual(Object.fromEntries(new URLSearchParams(second?.body)), { grant_type: 'client_credentials', scope: 'hooks', client_id: 'notify', client_secret: SECRET })
    assert.equal(first?.headers['content-type'], 'application/x-www-form-urlencoded')
  })

  it('one token request for a burst: 200 callers await it and get the same token, then it is answered from the cache', async () => {
    const { source, counted } = tokens()
    const { policy, auth } = oauth2Policy()
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    answer = (response, index) => void held.then(() => tokenAnswer(3600)(response, index))
    const burst = Array.from({ length: 200 }, () => source.token(policy, auth, far()))
    assert.ok(burst.every((pending) => pending instanceof Promise))
    release()
    assert.deepEqual(new Set(await Promise.all(burst)), new Set(['at-1']))
    assert.equal(source.token(policy, auth, far()), 'at-1', 'cached: answered at once')
    assert.equal(requests.length, 1)
    assert.deepEqual(counted, [['https://hooks.acme.example', 'ok']])
  })

  it('cached until shortly before expires_in runs out: a tenth of it, at most 30 s', async () => {
    const { source, clock } = tokens()
    const start = clock.now
    const { policy, auth } = oauth2Policy()
    answer = tokenAnswer(100)
    assert.equal(await source.token(policy, auth, far()), 'at-1')
    assert.equal(source.tokenValidUntil(policy), start + 100_000)
    clock.now = start + 89_999
    assert.equal(source.token(policy, auth, far()), 'at-1')
    clock.now = start + 90_000
    assert.equal(source.tokenValidUntil(policy), undefined, 'no longer used: none shown')
    assert.equal(await source.token(policy, auth, far()), 'at-2')
    answer = tokenAnswer(3600)
    const long = oauth2Policy()
    clock.now = start
    await source.token(long.policy, long.auth, far())
    clock.now = start + 3_570_000 - 1
    assert.equal(source.token(long.policy, long.auth, far()), 'at-3')
    clock.now = start + 3_570_000
    assert.equal(await source.token(long.policy, long.auth, far()), 'at-4')
  })

  it('an answer without expires_in: used for the default lifetime (less its margin)', async () => {
    const { source, clock } = tokens()
    const start = clock.now
    const { policy, auth } = oauth2Policy()
    answer = tokenAnswer(undefined)
    await source.token(policy, auth, far())
    assert.equal(source.tokenValidUntil(policy), start + DEFAULT_TOKEN_LIFETIME_MS)
    clock.now = start + DEFAULT_TOKEN_LIFETIME_MS - 30_000
    assert.equal(await source.token(policy, auth, far()), 'at-2')
  })

  it('a 401 drops the token it was sent with, not a newer one', async () => {
    const { source } = tokens()
    const { policy, auth } = oauth2Policy()
    const first = await source.token(policy, auth, far())
    source.drop(policy, first)
    const second = await source.token(policy, auth, far())
    assert.equal(second, 'at-2')
    source.drop(policy, first) // a late 401 of a request that carried the old one
    assert.equal(source.token(policy, auth, far()), 'at-2')
    assert.equal(requests.length, 2)
  })

  it('a failed request is remembered for a moment: the burst after it fails at once, then a new request is made', async () => {
    const { source, counted, clock } = tokens()
    const { policy, auth } = oauth2Policy()
    answer = (response) => response.writeHead(503).end(JSON.stringify({ error: 'temporarily_unavailable' }))
    await assert.rejects(Promise.resolve(source.token(policy, auth, far())), { name: 'TokenRequestError', result: 'refused', message: /answered 503 \(temporarily_unavailable\)/ })
    for (let i = 0; i < 50; i++) await assert.rejects(Promise.resolve(source.token(policy, auth, far())), TokenRequestError)
    assert.equal(requests.length, 1)
    answer = tokenAnswer(3600)
    clock.now += FAILURE_MEMORY_MS
    assert.equal(await source.token(policy, auth, far()), 'at-2')
    assert.deepEqual(counted.map(([, result]) => result), ['refused', 'ok'])
  })

  it('garbage, a hung endpoint and an unreachable one are failures of their own kind, none naming the secret', async () => {
    const { source, counted, clock } = tokens()
    const cases: Array<[(response: ServerResponse) => void, TokenRequestResult]> = [
      [(response) => response.writeHead(200).end('<html>login</html>'), 'invalid'],
      [(response) => response.writeHead(200).end(JSON.stringify({ access_token: 'x', token_type: 'mac' })), 'invalid'],
      [(response) => response.writeHead(200).end('x'.repeat(70 * 1024)), 'invalid'],
      [() => undefined, 'timeout'],
    ]
    for (const [answering, result] of cases) {
      answer = answering
      clock.now += FAILURE_MEMORY_MS
      const { policy, auth } = oauth2Policy()
      const error = await Promise.resolve(source.token(policy, auth, 300)).then(() => assert.fail('a token'), (failure: unknown) => failure as TokenRequestError)
      assert.equal(error.result, result, error.message)
      assert.ok(!error.message.includes(SECRET))
    }
    const unreachable = destinationPolicy({ origin: 'https://x.example', auth: { oauth2_client_credentials: { token_url: 'http://127.0.0.1:1/token', client_id: 'notify', client_secret: SECRET } } })
    assert.equal(unreachable.auth?.kind, 'oauth2_client_credentials')
    await assert.rejects(Promise.resolve(source.token(unreachable, unreachable.auth, far())), (error: TokenRequestError) => error.result === 'unreachable' && /ECONNREFUSED/.test(error.message) && !error.message.includes(SECRET))
    assert.deepEqual(counted.map(([, result]) => result), ['invalid', 'invalid', 'invalid', 'timeout', 'unreachable'])
  })

  it('each policy object has its own token (a reloaded file starts afresh)', async () => {
    const { source } = tokens()
    const one = oauth2Policy()
    const two = oauth2Policy()
    assert.equal(await source.token(one.policy, one.auth, far()), 'at-1')
    assert.equal(await source.token(two.policy, two.auth, far()), 'at-2')
    assert.equal(source.token(one.policy, one.auth, far()), 'at-1')
    assert.equal(source.tokenValidUntil(destinationPolicy({ origin: 'https://other.example' })), undefined)
  })
})
