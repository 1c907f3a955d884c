// How every Kafka client of the service connects: the bootstrap brokers and, from
// KAFKA_SECURITY_PROTOCOL, TLS (SSL, SASL_SSL; mutual TLS with a client certificate) and
// SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). Built once from the configuration and spread
// into the options of each consumer, producer and admin client.
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import type { SASLOptions } from '@platformatic/kafka'
import type { KafkaSettings } from '../config.ts'
import { ErrorCodes, NotificationError } from '../errors.ts'
import { walkErrorChain } from '../lib/error-chain.ts'
import { isUntrustedCertificate } from '../lib/tls-trust.ts'

export interface KafkaConnection {
  readonly bootstrapBrokers: string[]
  readonly tls?: TlsOptions
  readonly sasl?: SASLOptions
}

export function kafkaConnection(kafka: Pick<KafkaSettings, 'brokers' | 'security'>): KafkaConnection {
  const { tls, sasl } = kafka.security
  return {
    bootstrapBrokers: [...kafka.brokers],
    ...(tls ? { tls: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) } } : {}),
    ...(sasl ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } } : {}),
  }
}

/** A plaintext connection to these brokers (tests, benchmarks). */
export function plaintextConnection(brokers: readonly string[]): KafkaConnection {
  return { bootstrapBrokers: [...brokers] }
}

/** Broker answers that mean our principal may not do this (ACLs). */
const NOT_AUTHORIZED = new Set(['TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'])

/**
 * The client's words (UserError, network/connection.js) for TLS spoken to a plaintext
 * listener, or plaintext to a TLS one; it has no code of its own for them. At start-up they
 * mean a setting is wrong (a broker closing mid-handshake while it restarts says the same,
 * and start-up stops then too); later they are an outage, waited out (canRetry).
 */
const TLS_MISMATCH = /^(TLS handshake failed|Broker requires TLS)/

/**
 * Whether a failure says the cluster refuses us (credentials, certificate, ACLs) rather than
 * that it is unreachable: retrying cannot help, and a person must fix a setting. The client
 * reports these wrapped in retryable network errors ("Connection to … failed." whose cause is
 * the authentication error or the TLS error), so the whole chain is searched, causes included.
 */
export function kafkaAccessRefusal(error: unknown): NotificationError | undefined {
  const reason = refusalIn(error, REFUSAL_MAX_DEPTH)
  return reason === undefined ? undefined : new NotificationError(ErrorCodes.KAFKA_ACCESS_REFUSED, reason, false, { cause: error })
}

/** How deep the client nests a refusal in its errors: deeper than the usual walk. */
const REFUSAL_MAX_DEPTH = 10

/** The first refusal in the chain, in the walk's order. */
function refusalIn(error: unknown, maxDepth: number): string | undefined {
  let reason: string | undefined
  walkErrorChain(
    error,
    (value, { depth }) => {
      reason = refusalOf(value as Record<string, unknown>, maxDepth - depth - 1)
      return reason === undefined ? undefined : 'stop'
    },
    maxDepth,
  )
  return reason
}

/** What this one error refuses, if anything; `depthLeft`: how far below it a more precise reason may be looked for. */
function refusalOf(value: Record<string, unknown>, depthLeft: number): string | undefined {
  const { code, apiId, serverErrorMessage, message } = value
  if (apiId === 'SASL_AUTHENTICATION_FAILED' || code === 'PLT_KFK_AUTHENTICATION') {
    const detail = typeof serverErrorMessage === 'string' && serverErrorMessage !== '' ? serverErrorMessage : String(message)
    // The broker's own words, found below the client's generic ones, say more.
    const deeper = value instanceof AggregateError
      ? (value.errors as unknown[]).map((inner) => refusalIn(inner, depthLeft)).find(Boolean)
      : refusalIn(value.cause, depthLeft)
    return deeper ?? `Kafka authentication failed: ${detail} (check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD)`
  }
  if (code === 'PLT_KFK_USER' && typeof message === 'string' && TLS_MISMATCH.test(message)) {
    return `Kafka TLS: ${message} (check KAFKA_SECURITY_PROTOCOL: SSL or SASL_SSL only for a listener that speaks TLS, PLAINTEXT or SASL_PLAINTEXT for one that does not)`
  }
  if (isUntrustedCertificate(code)) {
    return `Kafka TLS: the broker's certificate is not trusted (${code}: ${String(message)}); set KAFKA_SSL_CA_FILE to the CA that signed it`
  }
  if (typeof apiId === 'string' && NOT_AUTHORIZED.has(apiId)) {
    return `Kafka refused an operation (${apiId}): grant this user the ACLs listed in docs/deploying.md (ACLs)`
  }
  return undefined
}
