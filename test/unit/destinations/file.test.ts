import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { loadConfig } from '../../../src/config.ts'
import { ConfigError } from '../../../src/errors.ts'
import { DestinationsFileError, readDestinationsFile } from '../../../src/destinations/file.ts'
import { makeTestPki, type TestPki } from '../../helpers/tls.ts'

const SECRET = 'not-to-be-printed-0123456789'
let dir: string
let pki: TestPki
let counter = 0

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'destinations-file-'))
  pki = makeTestPki()
})
after(() => {
  rmSync(dir, { recursive: true, force: true })
  pki.remove()
})

/** Writes `text` as a new destinations file and returns its path. */
function fileWith(text: string): string {
  const path = join(dir, `destinations-${++counter}.yaml`)
  writeFileSync(path, text)
  return path
}

const env = { ACME_TOKEN: SECRET, ACME_USER: 'notify' }
const load = (text: string) => readDestinationsFile(fileWith(text), { sources: { env, readFile: (path) => (path.startsWith(dir) ? `${SECRET}\n` : assert.fail('unexpected read')) } })

/** The one-line problem of a file, checked to name the file and to hold no secret. */
function problemOf(text: string): string {
  const file = fileWith(text)
  try {
    readDestinationsFile(file, { sources: { env, readFile: () => SECRET } })
  } catch (error) {
    assert.ok(error instanceof DestinationsFileError, String(error))
    assert.ok(error instanceof ConfigError)
    assert.ok(error.message.startsWith(`CALLBACK_DESTINATIONS_FILE ${file}: `), error.message)
    assert.ok(!error.message.includes(SECRET), error.message)
    assert.ok(!error.message.includes('\n'), error.message)
    return error.message.slice(`CALLBACK_DESTINATIONS_FILE ${file}: `.length)
  }
  return assert.fail('the file was accepted')
}

describe('readDestinationsFile: a valid file', () => {
  it('reads every field, normalises the origins and resolves references', () => {
    const secretFile = join(dir, 'client-secret')
    writeFileSync(secretFile, `${SECRET}\n`)
    const set = load(`
destinations:
  - origin: HTTPS://Hooks.ACME.example:443
    headers: { X-Api-Key: "key-\${env:ACME_TOKEN}", X-Tenant: acme }
    auth:
      oauth2_client_credentials:
        token_url: https://idp.acme.example/oauth2/token
        client_id: notifications
        client_secret: \${file:${secretFile}}
        scope: webhooks:write
    tls: { ca_file: ${pki.ca.file}, cert_file: ${pki.client.certFile}, key_file: ${pki.client.keyFile} }
    timeout_ms: 5000
    rate_limit: 600/m
    max_connections: 64
  - origin: https://*.Acme.example:8443
    auth: { basic: { username: "\${env:ACME_USER}", password: "\${env:ACME_TOKEN}" } }
  - origin: "*"
    auth: { bearer: "\${env:ACME_TOKEN}" }
`)
    assert.deepEqual(
      set.policies.map((policy) => [policy.pattern, policy.index]),
      [
        ['https://hooks.acme.example', 0],
        ['https://*.acme.example:8443', 1],
        ['*', 2],
      ],
    )
    const [first, second, third] = set.policies
    assert.deepEqual(first!.headers, { 'X-Api-Key': `key-${SECRET}`, 'X-Tenant': 'acme' })
    assert.deepEqual(first!.auth, {
      kind: 'oauth2_client_credentials',
      tokenUrl: 'https://idp.acme.example/oauth2/token',
      clientId: 'notifications',
      clientSecret: SECRET,
      scope: 'webhooks:write',
      audience: undefined,
      clientAuth: 'client_secret_basic',
    })
    assert.equal(first!.tls?.caFile, pki.ca.file)
    assert.deepEqual(first!.tls?.ca, pki.ca.pem)
    assert.deepEqual(first!.tls?.cert, pki.client.cert)
    assert.deepEqual(first!.tls?.key, pki.client.key)
    assert.equal(first!.timeoutMs, 5000)
    assert.equal(first!.rateLimitPerSecond, 10)
    assert.equal(first!.maxConnections, 64)
    assert.deepEqual(second!.auth, { kind: 'basic', username: 'notify', password: SECRET })
    assert.deepEqual(third!.auth, { kind: 'bearer', token: SECRET })
    assert.equal(third!.tls, undefined)
    assert.ok(Object.isFrozen(set) && Object.isFrozen(first) && Object.isFrozen(first!.headers))
  })

  it('reads JSON, takes TLS paths relative to the file, and accepts an empty list', () => {
    const relativeCa = join('..', basename(pki.dir), 'ca.pem')
    const set = load(JSON.stringify({ destinations: [{ origin: 'http://127.0.0.1:8080', tls: { ca_file: relativeCa } }] }))
    assert.equal(set.policies[0]?.pattern, 'http://127.0.0.1:8080')
    assert.equal(set.policies[0]?.tls?.caFile, pki.ca.file)
    assert.deepEqual(load('destinations: []\n').policies, [])
  })

  it('takes client_secret_post and an audience', () => {
    const set = load('destinations:\n  - origin: https://a.example\n    auth: { oauth2_client_credentials: { token_url: "http://idp.example/t", client_id: a, client_secret: b, audience: api, client_auth: client_secret_post } }\n')
    assert.equal(set.policies[0]?.auth?.kind === 'oauth2_client_credentials' && `${set.policies[0].auth.clientAuth} ${set.policies[0].auth.audience}`, 'client_secret_post api')
  })
})

describe('readDestinationsFile: one line naming the file, the entry and the field', () => {
  const cases: Array<[string, string, string | RegExp]> = [
    ['an unknown field', 'destinations:\n  - origin: https://a.example\n    max_conections: 4\n', 'destinations[0] (https://a.example): max_conections: unknown field'],
    ['an unknown field at the top', 'destinations: []\nextra: 1\n', 'extra: unknown field'],
    ['an unknown field in auth', 'destinations:\n  - origin: "*"\n    auth: { bearer: x, token: y }\n', 'destinations[0] (*): auth.token: unknown field'],
    ['two kinds of auth', `destinations:\n  - origin: https://a.example\n  - origin: https://b.example\n  - origin: https://hooks.acme.example\n    auth: { bearer: "\${env:ACME_TOKEN}", basic: { username: u, password: "\${env:ACME_TOKEN}" } }\n`, 'destinations[2] (https://hooks.acme.example): auth: give one of bearer, basic, oauth2_client_credentials, not two'],
    ['no kind of auth', 'destinations:\n  - origin: "*"\n    auth: {}\n', 'destinations[0] (*): auth: give one of bearer, basic, oauth2_client_credentials'],
    ['a basic username with a colon', 'destinations:\n  - origin: "*"\n    auth: { basic: { username: "a:b", password: p } }\n', /auth\.basic\.username: must not contain ":"/],
    ['an oauth2 token_url that is not http(s)', 'destinations:\n  - origin: "*"\n    auth: { oauth2_client_credentials: { token_url: "ftp://idp", client_id: a, client_secret: b } }\n', /auth\.oauth2_client_credentials\.token_url: must be an http/],
    ['an oauth2 client_auth unknown', 'destinations:\n  - origin: "*"\n    auth: { oauth2_client_credentials: { token_url: "https://idp", client_id: a, client_secret: b, client_auth: jwt } }\n', /client_auth: must be client_secret_basic or client_secret_post/],
    ['an unset env reference', 'destinations:\n  - origin: "*"\n    headers: { X-Key: "${env:NOT_SET_ANYWHERE}" }\n', 'destinations[0] (*): headers.X-Key: ${env:NOT_SET_ANYWHERE}: the environment variable NOT_SET_ANYWHERE is not set'],
    ['a reference of another kind', 'destinations:\n  - origin: "*"\n    headers: { X-Key: "${vault:x}" }\n', 'destinations[0] (*): headers.X-Key: ${vault:x} is not ${env:NAME} or ${file:/absolute/path}'],
    ['a relative file reference', 'destinations:\n  - origin: "*"\n    auth: { bearer: "${file:secret}" }\n', /auth\.bearer: \$\{file:secret\} is not/],
    ['a malformed origin (a path)', 'destinations:\n  - origin: https://a.example/hooks\n', /^destinations\[0\] \(https:\/\/a\.example\/hooks\): origin: must be an origin/],
    ['a malformed origin (not a URL)', 'destinations:\n  - origin: acme\n', /origin: must be an origin/],
    ['a wildcard inside the host', 'destinations:\n  - origin: https://hooks.*.example\n', /origin: a wildcard must be the whole first label/],
    ['a partial wildcard label', 'destinations:\n  - origin: https://a*.example\n', /origin: a wildcard must be the whole first label/],
    ['a duplicate origin', 'destinations:\n  - origin: https://a.example\n  - origin: HTTPS://A.example:443\n', 'destinations[1] (HTTPS://A.example:443): origin: https://a.example is already the origin of destinations[0]'],
    ['a duplicate *', 'destinations:\n  - origin: "*"\n  - origin: "*"\n', /destinations\[1\] \(\*\): origin: \* is already/],
    ['a malformed rate', 'destinations:\n  - origin: "*"\n    rate_limit: 50/d\n', 'destinations[0] (*): rate_limit: must be a rate such as 50/s, 600/m or 1000/h'],
    ['a zero rate', 'destinations:\n  - origin: "*"\n    rate_limit: 0/s\n', 'destinations[0] (*): rate_limit: must be above 0 and at most 1000000/s'],
    ['a timeout out of range', 'destinations:\n  - origin: "*"\n    timeout_ms: 50\n', 'destinations[0] (*): timeout_ms: must be an integer from 100 to 600000'],
    ['max_connections not an integer', 'destinations:\n  - origin: "*"\n    max_connections: "8"\n', 'destinations[0] (*): max_connections: must be an integer from 1 to 4096'],
    ['a reserved header: Content-Type', 'destinations:\n  - origin: "*"\n    headers: { content-type: text/plain }\n', 'destinations[0] (*): headers.content-type: is set by the service and cannot be replaced'],
    ['a reserved header: webhook-*', 'destinations:\n  - origin: "*"\n    headers: { Webhook-Signature: x }\n', /headers\.Webhook-Signature: is set by the service/],
    ['a reserved header: traceparent', 'destinations:\n  - origin: "*"\n    headers: { TraceParent: x }\n', /headers\.TraceParent: is set by the service/],
    ['a reserved header: X-Error-Notification', 'destinations:\n  - origin: "*"\n    headers: { x-error-notification: "false" }\n', /headers\.x-error-notification: is set by the service/],
    ['Authorization with auth', 'destinations:\n  - origin: "*"\n    headers: { authorization: x }\n    auth: { bearer: y }\n', 'destinations[0] (*): headers.authorization: is set by auth: remove one of them'],
    ['Host', 'destinations:\n  - origin: "*"\n    headers: { Host: other.example }\n', 'destinations[0] (*): headers.Host: is managed by the HTTP client and cannot be set'],
    ['Content-Length', 'destinations:\n  - origin: "*"\n    headers: { Content-Length: "3" }\n', /headers\.Content-Length: is managed by the HTTP client/],
    ['a header name that is not a token', 'destinations:\n  - origin: "*"\n    headers: { "X Key": x }\n', 'destinations[0] (*): headers.X Key: is not a valid header name'],
    ['a header twice', 'destinations:\n  - origin: "*"\n    headers: { X-Key: a, x-key: b }\n', /headers\.x-key: is given twice/],
    ['a header value with CR LF (from a reference)', 'destinations:\n  - origin: "*"\n    headers: { X-Key: "a\\r\\nInjected: yes" }\n', /headers\.X-Key: must not hold control characters/],
    ['a cert without its key', `destinations:\n  - origin: "*"\n    tls: { cert_file: ${'/x.crt'} }\n`, 'destinations[0] (*): tls.key_file: is required with cert_file (mutual TLS needs a certificate and its key)'],
    ['a key without its cert', `destinations:\n  - origin: "*"\n    tls: { key_file: /x.key }\n`, /tls\.cert_file: is required with key_file/],
    ['an empty tls', 'destinations:\n  - origin: "*"\n    tls: {}\n', /tls: give ca_file, or cert_file and key_file/],
    ['not a map at the top', '- origin: "*"\n', 'the file: must be a map with a "destinations" list'],
    ['no destinations list', 'destinations: { origin: "*" }\n', 'destinations: must be a list of destinations'],
    ['an entry that is not a map', 'destinations:\n  - https://a.example\n', /^destinations\[0\]: the destination: must be a map/],
    ['a duplicate key', 'destinations:\n  - origin: "*"\n    timeout_ms: 1000\n    timeout_ms: 2000\n', 'line 4, column 5: Map keys must be unique'],
    ['broken YAML', 'destinations: [\n', /^line \d+, column \d+: /],
  ]
  for (const [name, text, expected] of cases) {
    it(`refuses ${name}`, () => {
      const problem = problemOf(text)
      if (typeof expected === 'string') assert.equal(problem, expected)
      else assert.match(problem, expected)
    })
  }

  it('refuses a missing file', () => {
    const file = join(dir, 'missing.yaml')
    assert.throws(() => readDestinationsFile(file), { message: `CALLBACK_DESTINATIONS_FILE ${file}: cannot read the file (ENOENT)` })
  })

  it('refuses an unreadable referenced file, naming it', () => {
    const file = fileWith('destinations:\n  - origin: "*"\n    auth: { bearer: "${file:/nonexistent/token}" }\n')
    assert.throws(() => readDestinationsFile(file), { message: `CALLBACK_DESTINATIONS_FILE ${file}: destinations[0] (*): auth.bearer: \${file:/nonexistent/token}: cannot read /nonexistent/token (ENOENT)` })
  })

  it('refuses an unreadable TLS file, naming it', () => {
    // A directory: unreadable as a file whoever runs the test (root reads files whatever their mode).
    assert.equal(problemOf(`destinations:\n  - origin: "*"\n    tls: { ca_file: ${pki.dir} }\n`), `destinations[0] (*): tls.ca_file: cannot read ${pki.dir} (EISDIR)`)
  })

  it('refuses a missing TLS file, naming it', () => {
    assert.equal(problemOf('destinations:\n  - origin: "*"\n    tls: { ca_file: /nonexistent/ca.pem }\n'), 'destinations[0] (*): tls.ca_file: cannot read /nonexistent/ca.pem (ENOENT)')
  })

  it('refuses PEM that is not a certificate, or does not parse', () => {
    const notPem = fileWith('just text')
    assert.equal(problemOf(`destinations:\n  - origin: "*"\n    tls: { ca_file: ${notPem} }\n`), `destinations[0] (*): tls.ca_file: ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`)
    const broken = fileWith('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    assert.equal(problemOf(`destinations:\n  - origin: "*"\n    tls: { cert_file: ${broken}, key_file: ${pki.client.keyFile} }\n`), `destinations[0] (*): tls.cert_file: ${broken}: certificate 1 does not parse`)
  })

  it('refuses a key that is not a PEM private key', () => {
    assert.equal(
      problemOf(`destinations:\n  - origin: "*"\n    tls: { cert_file: ${pki.client.certFile}, key_file: ${pki.client.certFile} }\n`),
      `destinations[0] (*): tls.key_file: ${pki.client.certFile} is not an unencrypted PEM private key`,
    )
  })

  it('refuses a key that does not match the certificate', () => {
    assert.equal(
      problemOf(`destinations:\n  - origin: "*"\n    tls: { cert_file: ${pki.client.certFile}, key_file: ${pki.strayKeyFile} }\n`),
      `destinations[0] (*): tls.key_file: ${pki.strayKeyFile} is not the private key of the certificate in ${pki.client.certFile}`,
    )
  })
})

describe('loadConfig and CALLBACK_DESTINATIONS_FILE', () => {
  it('reads the file at start, references from the same environment', () => {
    const file = fileWith('destinations:\n  - origin: "*"\n    auth: { bearer: "${env:MY_TOKEN}" }\n')
    const config = loadConfig({ CALLBACK_DESTINATIONS_FILE: file, MY_TOKEN: SECRET })
    assert.equal(config.destinations?.file, file)
    assert.deepEqual(config.destinations?.policies[0]?.auth, { kind: 'bearer', token: SECRET })
    assert.equal(loadConfig({}).destinations, undefined)
  })

  it('throws the one line as a ConfigError', () => {
    const file = fileWith('destinations:\n  - origin: "*"\n    auth: { bearer: "${env:MY_TOKEN}" }\n')
    assert.throws(() => loadConfig({ CALLBACK_DESTINATIONS_FILE: file }), (error) => error instanceof ConfigError && error.variable === 'CALLBACK_DESTINATIONS_FILE' && /: destinations\[0\] \(\*\): auth\.bearer: \$\{env:MY_TOKEN\}: the environment variable MY_TOKEN is not set$/.test(error.message))
  })
})
