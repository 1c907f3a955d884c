import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { kafkaAccessRefusal } from '../../../src/kafka/connection.ts'

describe('kafkaAccessRefusal', () => {
  // The shapes @platformatic/kafka 2.12 gives, as seen against a SASL_SSL cluster.
  const networkError = (cause: unknown) => Object.assign(new Error('Connection to 127.0.0.1:19092 failed.', { cause }), { code: 'PLT_KFK_NETWORK', canRetry: true })
  const multiple = (message: string, errors: unknown[]) => Object.assign(new AggregateError(errors, message), { code: 'PLT_KFK_MULTIPLE' })

  it('names a wrong password, with the broker’s own words', () => {
    const protocol = Object.assign(new Error('SASL authentication failed'), { code: 'PLT_KFK_PROTOCOL', apiId: 'SASL_AUTHENTICATION_FAILED', canRetry: false, serverErrorMessage: 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512' })
    const auth = Object.assign(new Error('SASL authentication failed.', { cause: multiple('Received response with error', [protocol]) }), { code: 'PLT_KFK_AUTHENTICATION', canRetry: false })
    const refusal = kafkaAccessRefusal(multiple('Listing topics failed.', [multiple('Cannot connect to any broker.', [networkError(auth)])]))
    assert.equal(refusal?.code, 'KAFKA_ACCESS_REFUSED')
    assert.equal(refusal?.canRetry, false)
    assert.match(refusal?.message ?? '', /^Kafka authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/)
  })

  it('names an untrusted broker certificate', () => {
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' })
    const refusal = kafkaAccessRefusal(new Error('cannot create topics', { cause: multiple('metadata failed 4 times.', [networkError(tls)]) }))
    assert.match(refusal?.message ?? '', /^Kafka TLS: the broker's certificate is not trusted \(SELF_SIGNED_CERT_IN_CHAIN/)
  })

  it('names a missing ACL', () => {
    const denied = Object.assign(new Error('Topic authorization failed'), { apiId: 'TOPIC_AUTHORIZATION_FAILED', canRetry: false })
    assert.match(kafkaAccessRefusal(multiple('x', [denied]))?.message ?? '', /TOPIC_AUTHORIZATION_FAILED/)
  })

  it('names TLS spoken to a plaintext listener, and plaintext to a TLS one', () => {
    const closed = Object.assign(new Error('Client network socket disconnected before secure TLS connection was established'), { code: 'ECONNRESET' })
    const handshake = Object.assign(new Error('TLS handshake failed. Please verify the broker supports TLS.', { cause: closed }), { code: 'PLT_KFK_USER', canRetry: false })
    const refusal = kafkaAccessRefusal(multiple('metadata failed 4 times.', [multiple('Cannot connect to any broker.', [networkError(handshake)])]))
    assert.equal(refusal?.code, 'KAFKA_ACCESS_REFUSED')
    assert.match(refusal?.message ?? '', /^Kafka TLS: TLS handshake failed\. .*check KAFKA_SECURITY_PROTOCOL/)
    const plaintext = Object.assign(new Error('Broker requires TLS.'), { code: 'PLT_KFK_USER', canRetry: false })
    assert.match(kafkaAccessRefusal(multiple('x', [plaintext]))?.message ?? '', /^Kafka TLS: Broker requires TLS\. .*KAFKA_SECURITY_PROTOCOL/)
  })

  it('leaves a broker that is only unreachable to be retried', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:19092'), { code: 'ECONNREFUSED' })
    assert.equal(kafkaAccessRefusal(multiple('Cannot connect to any broker.', [networkError(refused)])), undefined)
  })
})
