import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formEncode, readTokenAnswer, tokenRequest, TokenRequestError, type OAuth2Auth } from '../../../src/delivery/oauth2-token-request.ts'

const AUTH: OAuth2Auth = {
  kind: 'oauth2_client_credentials',
  tokenUrl: 'https://idp.example/oauth2/token?tenant=x',
  clientId: 'notify service',
  clientSecret: 's3cr:t/+&é',
  scope: 'webhooks:write',
  audience: 'https://api.acme.example',
  clientAuth: 'client_secret_basic',
}
const URL_ = AUTH.tokenUrl

describe('the token request (RFC 6749 §4.4.2)', () => {
  it('client_secret_basic: form body with grant_type, scope, audience; Authorization Basic of the form-encoded id and secret (§2.3.1)', () => {
    const request = tokenRequest(AUTH)
    assert.equal(request.url, AUTH.tokenUrl)
    assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded')
    assert.deepEqual(Object.fromEntries(new URLSearchParams(request.body)), { grant_type: 'client_credentials', scope: 'webhooks:write', audience: 'https://api.acme.example' })
    const basic = Buffer.from(request.headers.authorization?.replace(/^Basic /, '') ?? '', 'base64').toString('utf8')
    assert.equal(basic, 'notify+service:s3cr%3At%2F%2B%26%C3%A9')
    const [id, secret] = basic.split(':').map((part) => decodeURIComponent(part.replaceAll('+', ' ')))
    assert.deepEqual([id, secret], [AUTH.clientId, AUTH.clientSecret])
  })

  it('client_secret_post: id and secret in the body, no Authorization', () => {
    const request = tokenRequest({ ...AUTH, clientAuth: 'client_secret_post', scope: undefined, audience: undefined })
    assert.equal(request.headers.authorization, undefined)
    assert.deepEqual(Object.fromEntries(new URLSearchParams(request.body)), { grant_type: 'client_credentials', client_id: AUTH.clientId, client_secret: AUTH.clientSecret })
  })

  it('formEncode writes application/x-www-form-urlencoded', () => {
    assert.equal(formEncode("a b*~'!()"), 'a+b*%7E%27%21%28%29')
  })
})

describe('reading the answer (§5.1, §5.2)', () => {
  const ok = (body: unknown) => readTokenAnswer(URL_, 200, JSON.stringify(body))
  const refused = (status: number, body: string, result: string, message: RegExp) =>
    assert.throws(() => readTokenAnswer(URL_, status, body), (error: unknown) => error instanceof TokenRequestError && error.result === result && message.test(error.message))

  it('a token: access_token, token_type Bearer in any case, expires_in in seconds', () => {
    assert.deepEqual(ok({ access_token: 'at-1', token_type: 'Bearer', expires_in: 3600 }), { token: 'at-1', expiresInSeconds: 3600 })
    assert.deepEqual(ok({ access_token: 'at-2', token_type: 'bearer' }), { token: 'at-2', expiresInSeconds: undefined })
    assert.deepEqual(ok({ access_token: 'at-3', token_type: 'BEARER', expires_in: '120', scope: 'x' }), { token: 'at-3', expiresInSeconds: 120 })
  })

  it('garbage: not JSON, not an object, no or empty token, a token that cannot go in a header, another token type, a bad expires_in', () => {
    for (const body of ['<html>', '[]', 'null', '"at"']) refused(200, body, 'invalid', /without a JSON object/)
    for (const token of [undefined, '', 42, 'a b', 'a\r\nX-Evil: 1']) refused(200, JSON.stringify({ access_token: token, token_type: 'Bearer' }), 'invalid', /no usable access_token/)
    for (const type of [undefined, 'mac', 'DPoP']) refused(200, JSON.stringify({ access_token: 'at', token_type: type }), 'invalid', /token_type is not Bearer/)
    for (const expiresIn of [0, -5, 'soon', null, Number.MAX_VALUE * 10]) refused(200, JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: expiresIn }), 'invalid', /expires_in/)
  })

  it('an error answer: refused, with its status and its OAuth error code, nothing else of the body', () => {
    refused(401, JSON.stringify({ error: 'invalid_client', error_description: 'client secret s3cr:t is wrong' }), 'refused', /^token endpoint https:\/\/idp\.example\/oauth2\/token answered 401 \(invalid_client\)$/)
    refused(500, 'Internal error with secret inside', 'refused', /answered 500$/)
  })

  it('messages name the endpoint without its query', () => {
    assert.throws(() => readTokenAnswer(URL_, 200, '{}'), (error: Error) => !error.message.includes('tenant') && error.message.includes('idp.example/oauth2/token'))
  })
})
