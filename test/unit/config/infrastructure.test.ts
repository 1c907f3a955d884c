// Settings for production infrastructure (issue "Run where production runs"): secured Kafka,
// topic layout, static membership, Redis TLS/Sentinel/Cluster, memory limit. Each rule
// across variables stops start-up with one line naming the variable.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from '../../../src/config.ts'
import { ConfigError } from '../../../src/errors.ts'
import { kafkaConnection } from '../../../src/kafka/connection.ts'

const dir = mkdtempSync(join(tmpdir(), 'config-files-'))
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n')
const CERT = file('client.pem', 'client cert')
const KEY = file('client.key', 'client key')
const SASL = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 's3cret' }

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    assert.ok(error instanceof ConfigError)
    return error.message
  }
  assert.fail('expected a ConfigError')
}

describe('Kafka security settings', () => {
  it('defaults to PLAINTEXT with neither TLS nor SASL', () => {
    const { security } = loadConfig({}).kafka
    assert.deepEqual(security, { protocol: 'PLAINTEXT', sasl: undefined, tls: undefined })
    assert.deepEqual(Object.keys(kafkaConnection(loadConfig({}).kafka)), ['bootstrapBrokers'])
  })

  it('SASL_SSL: mechanism, user and password for SASL; the CA file read once for TLS', () => {
    const { kafka } = loadConfig({ ...SASL, KAFKA_SSL_CA_FILE: CA })
    assert.deepEqual(kafka.security.sasl, { mechanism: 'SCRAM-SHA-512', username: 'svc', password: 's3cret' })
    assert.equal(kafka.security.tls?.ca?.toString(), '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n')
    const connection = kafkaConnection(kafka)
    assert.deepEqual(connection.sasl, { mechanism: 'SCRAM-SHA-512', username: 'svc', password: 's3cret' })
    assert.equal(String(connection.tls?.ca), String(kafka.security.tls?.ca))
  })

  it('SSL with a client certificate (mutual TLS), no SASL', () => {
    const connection = kafkaConnection(loadConfig({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: KEY }).kafka)
    assert.equal(String(connection.tls?.cert), 'client cert')
    assert.equal((connection.tls?.key as Buffer).toString(), 'client key')
    assert.equal(connection.tls?.ca, undefined, "the system's CAs")
    assert.equal(connection.sasl, undefined)
  })

  it('refuses an unknown protocol or mechanism', () => {
    assert.equal(refusal({ KAFKA_SECURITY_PROTOCOL: 'TLS' }), 'KAFKA_SECURITY_PROTOCOL: must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL')
    assert.equal(refusal({ ...SASL, KAFKA_SASL_MECHANISM: 'GSSAPI' }), 'KAFKA_SASL_MECHANISM: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512')
  })

  it('requires each SASL setting with a SASL protocol, and refuses them without one', () => {
    assert.equal(refusal({ ...SASL, KAFKA_SASL_PASSWORD: '' }), 'KAFKA_SASL_PASSWORD: is required with KAFKA_SECURITY_PROTOCOL=SASL_SSL')
    assert.equal(refusal({ KAFKA_SASL_USERNAME: 'svc' }), 'KAFKA_SASL_USERNAME: is set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT (use SASL_SSL or SASL_PLAINTEXT)')
  })

  it('refuses TLS files without a TLS protocol, a certificate without its key, and a file it cannot read', () => {
    assert.equal(refusal({ ...SASL, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SSL_CA_FILE: CA }), 'KAFKA_SSL_CA_FILE: is set but KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT (use SSL or SASL_SSL)')
    assert.equal(refusal({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: CERT }), 'KAFKA_SSL_KEY_FILE: is required with the other (mutual TLS needs a certificate and its key)')
    assert.equal(refusal({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') }), `KAFKA_SSL_CA_FILE: cannot read "${join(dir, 'missing.pem')}": ENOENT`)
  })
})

describe('Kafka topic layout and membership', () => {
  it('defaults to 6 partitions and a replication factor chosen from the cluster', () => {
    assert.deepEqual(loadConfig({}).kafka.topicLayout, { partitions: 6, replicationFactor: undefined })
    assert.equal(loadConfig({}).kafka.groupInstanceId, undefined)
  })

  it('takes KAFKA_TOPIC_PARTITIONS, KAFKA_TOPIC_REPLICATION_FACTOR and KAFKA_GROUP_INSTANCE_ID', () => {
    const { kafka } = loadConfig({ KAFKA_TOPIC_PARTITIONS: '12', KAFKA_TOPIC_REPLICATION_FACTOR: '3', KAFKA_GROUP_INSTANCE_ID: 'notifications-0' })
    assert.deepEqual(kafka.topicLayout, { partitions: 12, replicationFactor: 3 })
    assert.equal(kafka.groupInstanceId, 'notifications-0')
    assert.equal(refusal({ KAFKA_TOPIC_REPLICATION_FACTOR: '0' }), 'KAFKA_TOPIC_REPLICATION_FACTOR: must be an integer from 1 to 32, got "0"')
    assert.match(refusal({ KAFKA_GROUP_INSTANCE_ID: 'pod 0' }), /^KAFKA_GROUP_INSTANCE_ID: may hold letters/)
  })
})

describe('Redis topologies', () => {
  it('rediss:// with an ACL user means TLS and credentials; REDIS_TLS_CA_FILE adds the CA', () => {
    const { redis } = loadConfig({ REDIS_URL: 'rediss://svc:p%40ss@cache.example:6380', REDIS_TLS_CA_FILE: CA })
    assert.equal(redis.mode, 'standalone')
    assert.equal(redis.username, 'svc')
    assert.equal(redis.password, 'p@ss')
    assert.equal(redis.tls?.ca?.toString().startsWith('-----BEGIN CERTIFICATE-----'), true)
  })

  it('Sentinel: the sentinels and the master name; credentials and db from REDIS_URL', () => {
    const { redis } = loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379, sentinel-2:26379,[fd00::3]:26379', REDIS_SENTINEL_MASTER: 'notifications', REDIS_URL: 'redis://:pw@ignored:6379/2' })
    assert.deepEqual(redis, {
      mode: 'sentinel',
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: 'sentinel-2', port: 26379 }, { host: 'fd00::3', port: 26379 }],
      masterName: 'notifications',
      db: 2,
      username: undefined,
      password: 'pw',
      tls: undefined,
    })
  })

  it('Cluster: the seed nodes', () => {
    const { redis } = loadConfig({ REDIS_CLUSTER_NODES: 'r1:7001,r2:7002' })
    assert.equal(redis.mode, 'cluster')
    assert.deepEqual(redis.mode === 'cluster' && redis.nodes, [{ host: 'r1', port: 7001 }, { host: 'r2', port: 7002 }])
  })

  it('refuses half a Sentinel setting, both topologies at once, and a malformed node', () => {
    assert.equal(refusal({ REDIS_SENTINELS: 's:26379' }), 'REDIS_SENTINEL_MASTER: is required with REDIS_SENTINELS (the master name the sentinels monitor)')
    assert.equal(refusal({ REDIS_SENTINEL_MASTER: 'm' }), 'REDIS_SENTINELS: is required with REDIS_SENTINEL_MASTER')
    assert.equal(refusal({ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_CLUSTER_NODES: 'r:7000' }), 'REDIS_CLUSTER_NODES: cannot be set together with REDIS_SENTINELS')
    assert.equal(refusal({ REDIS_CLUSTER_NODES: 'r1:7001,r2' }), 'REDIS_CLUSTER_NODES: "r2" is not host:port')
  })
})

describe('memory limit', () => {
  it('is read from the container unless MEMORY_LIMIT_MB says otherwise', () => {
    assert.equal(loadConfig({}).memoryLimitMb, undefined)
    assert.equal(loadConfig({ MEMORY_LIMIT_MB: '256' }).memoryLimitMb, 256)
    assert.equal(refusal({ MEMORY_LIMIT_MB: '32' }), 'MEMORY_LIMIT_MB: must be an integer from 64 to 1048576, got "32"')
  })
})
