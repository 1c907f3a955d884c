import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NO_DESTINATIONS, type DestinationPolicy, type DestinationsView, type DestinationSet, type TokenView } from '../../../src/destinations/policy.ts'
import { destinationsAnswer, REDACTED, redactPolicy, withoutCredentials } from '../../../src/destinations/redact.ts'

const T0 = Date.parse('2026-12-03T12:00:00.000Z')

/** Every secret a destinations file can hold, each a string that appears nowhere else. */
const SECRETS = {
  header: 'hdr-value-5f1c9e0a7b',
  bearer: 'bearer-token-8d2e4b6c1a',
  password: 'basic-password-3a7f9c2e5d',
  clientSecret: 'client-secret-6b0d8e4f2c',
  caPem: '-----BEGIN CERTIFICATE-----\nca-pem-body-1e9b7d5c3a\n-----END CERTIFICATE-----\n',
  certPem: '-----BEGIN CERTIFICATE-----\ncert-pem-body-4c2a0e8f6d\n-----END CERTIFICATE-----\n',
  keyPem: '-----BEGIN PRIVATE KEY-----\nkey-pem-body-9f7e5d3b1c\n-----END PRIVATE KEY-----\n',
  tokenUrlPassword: 'url-password-2e4c6a8b0d',
  tokenUrlQueryKey: 'url-apikey-7a9c1e3f5b',
}

const base = { headers: {}, auth: undefined, tls: undefined, timeoutMs: undefined, rateLimitPerSecond: undefined, maxConnections: undefined }

const POLICIES: DestinationPolicy[] = [
  {
    ...base,
    pattern: 'https://hooks.acme.example',
    index: 0,
    headers: { 'X-Api-Key': SECRETS.header, 'X-Tenant': SECRETS.header },
    auth: {
      kind: 'oauth2_client_credentials',
      tokenUrl: `https://notify:${SECRETS.tokenUrlPassword}@idp.acme.example/oauth2/token?key=${SECRETS.tokenUrlQueryKey}`,
      clientId: 'notifications',
      clientSecret: SECRETS.clientSecret,
      scope: 'webhooks:write',
      audience: undefined,
      clientAuth: 'client_secret_basic',
    },
    tls: {
      caFile: '/etc/acme/ca.pem',
      ca: Buffer.from(SECRETS.caPem),
      certFile: '/etc/acme/client.crt',
      cert: Buffer.from(SECRETS.certPem),
      keyFile: '/etc/acme/client.key',
      key: Buffer.from(SECRETS.keyPem),
    },
    timeoutMs: 5000,
    rateLimitPerSecond: 50,
    maxConnections: 64,
  },
  { ...base, pattern: 'https://*.beta.example', index: 1, auth: { kind: 'bearer', token: SECRETS.bearer } },
  { ...base, pattern: '*', index: 2, auth: { kind: 'basic', username: 'notify', password: SECRETS.password } },
]

function registry(problem?: string): DestinationsView {
  const set: DestinationSet = { file: '/etc/notifications/destinations.yaml', policies: POLICIES, loadedAt: T0 }
  return {
    policyFor: () => undefined,
    current: () => set,
    lastReload: () => ({ at: T0 + 60_000, applied: problem === undefined, ...(problem === undefined ? {} : { problem }) }),
    recentOrigins: (policy) => (policy.index === 1 ? [{ origin: 'https://eu.beta.example', at: T0 + 2000 }, { origin: 'https://us.beta.example', at: T0 + 1000 }] : []),
  }
}

const TOKENS: TokenView = { tokenValidUntil: (policy) => (policy.index === 0 ? T0 + 300_000 : undefined) }

describe('the admin view of the destinations', () => {
  it('shows no secret of any kind', () => {
    const text = JSON.stringify(destinationsAnswer(registry(), TOKENS))
    for (const [kind, secret] of Object.entries(SECRETS)) {
      // The PEM bodies are checked by their distinctive line, not only the whole block.
      const needles = secret.includes('\n') ? secret.split('\n').filter((line) => line.includes('-body-')) : [secret]
      for (const needle of needles) assert.ok(!text.includes(needle), `${kind} appears in the view`)
    }
    // And nothing the view does not know: no field carries a Buffer or other non-JSON value.
    assert.ok(!text.includes('"type":"Buffer"'))
  })

  it('shows header names, the auth kind and its non-secret fields, the TLS files and the limits', () => {
    const [oauth2, bearer, basic] = destinationsAnswer(registry(), TOKENS).destinations
    assert.deepEqual(oauth2, {
      pattern: 'https://hooks.acme.example',
      index: 0,
      headers: { 'X-Api-Key': REDACTED, 'X-Tenant': REDACTED },
      auth: {
        kind: 'oauth2_client_credentials',
        token_url: `https://${REDACTED}@idp.acme.example/oauth2/token?${REDACTED}`,
        client_id: 'notifications',
        scope: 'webhooks:write',
        audience: null,
        client_auth: 'client_secret_basic',
      },
      tls: { ca_file: '/etc/acme/ca.pem', cert_file: '/etc/acme/client.crt', key_file: '/etc/acme/client.key' },
      timeout_ms: 5000,
      rate_limit_per_second: 50,
      max_connections: 64,
      recent_origins: [],
      token_valid_until: '2026-12-03T12:05:00.000Z',
    })
    assert.deepEqual(bearer?.auth, { kind: 'bearer' })
    assert.deepEqual(bearer?.recent_origins, [
      { origin: 'https://eu.beta.example', at: '2026-12-03T12:00:02.000Z' },
      { origin: 'https://us.beta.example', at: '2026-12-03T12:00:01.000Z' },
    ])
    assert.equal(bearer?.token_valid_until, null)
    assert.deepEqual(basic?.auth, { kind: 'basic', username: 'notify' })
    assert.equal(basic?.tls, null)
    assert.equal(basic?.timeout_ms, null)
  })

  it('names the file, when it was loaded and the last reload', () => {
    const answer = destinationsAnswer(registry(), TOKENS)
    assert.equal(answer.file, '/etc/notifications/destinations.yaml')
    assert.equal(answer.loaded_at, '2026-12-03T12:00:00.000Z')
    assert.deepEqual(answer.last_reload, { at: '2026-12-03T12:01:00.000Z', applied: true })
  })

  it('a refused reload keeps its reason, with any secret in force blanked out', () => {
    const problem = `entry 1 (https://*.beta.example): auth.bearer: "${SECRETS.bearer}" is not allowed here`
    const answer = destinationsAnswer(registry(problem), TOKENS)
    assert.equal(answer.last_reload?.applied, false)
    assert.equal(answer.last_reload?.problem, `entry 1 (https://*.beta.example): auth.bearer: "${REDACTED}" is not allowed here`)
  })

  it('without a file: no file and no destinations', () => {
    assert.deepEqual(destinationsAnswer(NO_DESTINATIONS, TOKENS), { file: null, loaded_at: null, last_reload: null, destinations: [] })
  })

  it('a token valid until some time is shown only for OAuth2', () => {
    const bearer = POLICIES[1]!
    assert.equal(redactPolicy(bearer, { recentOrigins: [], tokenValidUntil: T0 }).token_valid_until, null)
  })
})

describe('withoutCredentials', () => {
  it('keeps scheme, host, port and path', () => {
    assert.equal(withoutCredentials('https://idp.example:8443/oauth2/token'), 'https://idp.example:8443/oauth2/token')
  })
  it('drops a user name alone too, and an unparsable URL entirely', () => {
    assert.equal(withoutCredentials('http://user@idp.example/t'), `http://${REDACTED}@idp.example/t`)
    assert.equal(withoutCredentials('not a url with secret-123'), REDACTED)
  })
})
