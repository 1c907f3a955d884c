import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { basicCredentials, policyHeaders, withPolicyHeaders } from '../../../src/delivery/destination-headers.ts'
import { destinationPolicy } from '../../helpers/destinations.ts'

const OURS = { 'content-type': 'application/json', 'user-agent': 'notification-service/1', 'webhook-id': 'processing_1', traceparent: '00-abc-def-01' }

describe('the headers a destination policy adds', () => {
  it('its own headers, names lower-cased, under ours', () => {
    const policy = destinationPolicy({ origin: 'https://hooks.acme.example', headers: { 'X-Api-Key': 'k-123', 'User-Agent': 'theirs' } })
    assert.deepEqual(withPolicyHeaders({ ...OURS }, policy), { ...OURS, 'x-api-key': 'k-123' })
  })

  it('bearer: Authorization: Bearer <token>', () => {
    const policy = destinationPolicy({ origin: 'https://hooks.acme.example', auth: { bearer: 's3cr3t-token' } })
    assert.equal(withPolicyHeaders({ ...OURS }, policy).authorization, 'Bearer s3cr3t-token')
  })

  it('basic: Authorization: Basic base64(user:password), UTF-8 (RFC 7617)', () => {
    const policy = destinationPolicy({ origin: 'https://hooks.acme.example', auth: { basic: { username: 'notify', password: 'pä:ss' } } })
    const header = withPolicyHeaders({ ...OURS }, policy).authorization
    assert.equal(header, `Basic ${Buffer.from('notify:pä:ss', 'utf8').toString('base64')}`)
    assert.equal(Buffer.from(header?.slice('Basic '.length) ?? '', 'base64').toString('utf8'), 'notify:pä:ss')
    assert.equal(basicCredentials('a', ''), `Basic ${Buffer.from('a:').toString('base64')}`)
  })

  it('an OAuth2 access token as Authorization: Bearer', () => {
    const policy = destinationPolicy({ origin: 'https://hooks.acme.example', headers: { 'X-Tenant': 't1' }, auth: { oauth2_client_credentials: { token_url: 'https://idp.example/token', client_id: 'id', client_secret: 'secret' } } })
    assert.deepEqual(withPolicyHeaders({ ...OURS }, policy, 'at-1'), { ...OURS, 'x-tenant': 't1', authorization: 'Bearer at-1' })
    assert.equal(withPolicyHeaders({ ...OURS }, policy).authorization, undefined, 'no token, no Authorization: the secret never goes as a header')
  })

  it('ours win over anything of the same name, whatever its case', () => {
    const policy = destinationPolicy({ origin: 'https://hooks.acme.example', headers: { 'User-Agent': 'theirs' } })
    assert.equal(withPolicyHeaders({ ...OURS }, policy)['user-agent'], 'notification-service/1')
    assert.equal(Object.keys(withPolicyHeaders({ ...OURS }, policy)).filter((name) => name.toLowerCase() === 'user-agent').length, 1)
  })

  it('made once per policy object; the notification\'s own headers object is left as it was', () => {
    const policy = destinationPolicy({ origin: 'https://hooks.acme.example', headers: { 'X-A': '1' } })
    assert.equal(policyHeaders(policy), policyHeaders(policy))
    const ours = { ...OURS }
    withPolicyHeaders(ours, policy, 'token')
    assert.deepEqual(ours, OURS)
  })
})
