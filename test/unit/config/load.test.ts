import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { DEFAULT_TUNING, loadConfig } from '../../../src/config.ts'
import { ConfigError } from '../../../src/errors.ts'

describe('loadConfig defaults', () => {
  const config = loadConfig({})

  it('uses the contract defaults for Kafka', () => {
    assert.equal(config.kafka.groupId, 'notification_service')
    assert.deepEqual(config.kafka.topics, {
      input: [
        { name: 'sending', key: 'new_sending' },
        { name: 'AI_handler', key: 'new_request' },
      ],
      deadLetter: 'notifications.dlq',
      outcomes: 'notifications',
    })
    assert.ok(config.kafka.brokers.length > 0)
  })

  it('uses the contract defaults for TTL, timeout, port, log dir', () => {
    assert.equal(config.processedTtlSeconds, 259200)
    assert.equal(config.callbackTimeoutMs, 10000)
    assert.equal(config.httpPort, 8004)
    assert.equal(config.logDir, 'logs')
    assert.equal(config.mode, 'DEV')
    assert.equal(config.notifyOnAccepted, false)
    assert.equal(config.adminToken, undefined)
  })

  it('defaults the retry schedule to 5s,30s,2m,10m,30m,1h,3h,6h,12h in ms', () => {
    assert.deepEqual(config.retryScheduleMs, [
      5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000,
    ])
  })

  it('has no webhook secrets and no allowed networks by default', () => {
    assert.deepEqual(config.webhookSecrets, [])
    assert.deepEqual(config.allowedNetworks, [])
  })

  it('builds the Redis URL from REDIS_HOST and REDIS_PORT defaults', () => {
    assert.deepEqual(config.redis, { mode: 'standalone', url: 'redis://127.0.0.1:6379', username: undefined, password: undefined, tls: undefined })
  })

  it('applies default tuning, overridable per call', () => {
    assert.deepEqual(config.tuning, DEFAULT_TUNING)
    assert.equal(loadConfig({}, { maxInFlight: 5 }).tuning.maxInFlight, 5)
  })

  it('returns a frozen object', () => {
    assert.ok(Object.isFrozen(config))
  })
})

describe('loadConfig overrides', () => {
  it('reads topics, group and numbers from the environment', () => {
    const config = loadConfig({
      KAFKA_GROUP_ID: 'g1',
      KAFKA_TOPIC_FOR_SENDING: 's1',
      KAFKA_TOPIC_FOR_AI_HANDLER: 'a1',
      KAFKA_TOPIC_DLQ: 'd1',
      KAFKA_TOPIC_FOR_NOTIFICATIONS: 'n1',
      STORAGE_TIME_PROCESSED_MESSAGES: '60',
      CALLBACK_TIMEOUT_MS: '2500',
      HTTP_PORT: '9000',
      LOG_DIR: '/var/log/x',
      KAFKA_BOOTSTRAP_SERVERS: 'k1:9092, k2:9093',
      NOTIFY_ON_ACCEPTED: 'true',
      MODE: 'PROD',
      LOG_LEVEL: 'debug',
      RETRY_SCHEDULE: '1s,500ms,2m',
      CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/8, ::1/128',
    })
    assert.equal(config.kafka.groupId, 'g1')
    assert.deepEqual(config.kafka.topics, { input: [{ name: 's1', key: 'new_sending' }, { name: 'a1', key: 'new_request' }], deadLetter: 'd1', outcomes: 'n1' })
    assert.equal(config.processedTtlSeconds, 60)
    assert.equal(config.callbackTimeoutMs, 2500)
    assert.equal(config.httpPort, 9000)
    assert.equal(config.logDir, '/var/log/x')
    assert.deepEqual(config.kafka.brokers, ['k1:9092', 'k2:9093'])
    assert.equal(config.notifyOnAccepted, true)
    assert.equal(config.mode, 'PROD')
    assert.equal(config.logLevel, 'debug')
    assert.deepEqual(config.retryScheduleMs, [1000, 500, 120_000])
    assert.deepEqual(config.allowedNetworks, ['127.0.0.0/8', '::1/128'])
  })

  it('builds the Redis URL from REDIS_HOST and REDIS_PORT', () => {
    assert.equal((loadConfig({ REDIS_HOST: 'redis.local', REDIS_PORT: '6380' }).redis as { url: string }).url, 'redis://redis.local:6380')
  })

  it('lets REDIS_URL override REDIS_HOST and REDIS_PORT', () => {
    const config = loadConfig({ REDIS_URL: 'rediss://user:pw@cache:7000/2', REDIS_HOST: 'other', REDIS_PORT: '1234' })
    assert.deepEqual(config.redis, { mode: 'standalone', url: 'rediss://user:pw@cache:7000/2', username: 'user', password: 'pw', tls: { ca: undefined } })
  })

  it('treats empty and blank strings as unset', () => {
    const config = loadConfig({
      REDIS_PORT: '',
      HTTP_PORT: '',
      KAFKA_GROUP_ID: '   ',
      MODE: '',
      RETRY_SCHEDULE: '',
      WEBHOOK_SECRET: '',
      REDIS_URL: '',
      LOG_LEVEL: '',
      NOTIFY_ON_ACCEPTED: '',
    })
    assert.equal(config.httpPort, 8004)
    assert.equal(config.kafka.groupId, 'notification_service')
    assert.equal(config.mode, 'DEV')
    assert.equal(config.redis.mode === 'standalone' && config.redis.url, 'redis://127.0.0.1:6379')
    assert.equal(config.retryScheduleMs.length, 9)
    assert.deepEqual(config.webhookSecrets, [])
    assert.equal(config.notifyOnAccepted, false)
  })

  it('decodes two space-separated webhook secrets into two keys', () => {
    const a = randomBytes(24)
    const b = randomBytes(32)
    const config = loadConfig({ WEBHOOK_SECRET: `whsec_${a.toString('base64')} whsec_${b.toString('base64')}` })
    assert.equal(config.webhookSecrets.length, 2)
    assert.ok(config.webhookSecrets[0]?.equals(a))
    assert.ok(config.webhookSecrets[1]?.equals(b))
  })
})

describe('loadConfig rejects malformed variables', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['REDIS_PORT', 'abc'],
    ['HTTP_PORT', '70000'],
    ['RETRY_SCHEDULE', '5x'],
    ['MODE', 'STAGING'],
    ['CALLBACK_ALLOWED_NETWORKS', '10.0.0.0/33'],
    ['WEBHOOK_SECRET', 'whsec_!!!'],
    ['NOTIFY_ON_ACCEPTED', 'maybe'],
    ['KAFKA_BOOTSTRAP_SERVERS', 'nohostport'],
    ['LOG_LEVEL', 'loud'],
  ]
  for (const [variable, value] of cases) {
    it(`${variable}=${value} throws a one-line ConfigError naming ${variable}`, () => {
      assert.throws(
        () => loadConfig({ [variable]: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError)
          assert.equal(error.variable, variable)
          assert.equal(error.code, 'CONFIG_INVALID')
          assert.equal(error.canRetry, false)
          assert.ok(error.message.startsWith(`${variable}: `), error.message)
          assert.ok(error.message.length > variable.length + 2)
          assert.ok(!/[\r\n]/.test(error.message), 'message must be a single line')
          return true
        },
      )
    })
  }
})

describe('callback origin settings', () => {
  it('CALLBACK_RATE_LIMITS: per origin (normalised as URL.origin writes it) and for every other origin', () => {
    const config = loadConfig({ CALLBACK_RATE_LIMITS: 'https://API.client.example:443=50/s, http://slow.example:8080=300/m,*=2000/s' })
    assert.deepEqual([...config.rateLimits.byOrigin], [['https://api.client.example', 50], ['http://slow.example:8080', 5]])
    assert.equal(config.rateLimits.otherwise, 2000)
    assert.equal(loadConfig({}).rateLimits.byOrigin.size, 0)
    assert.equal(loadConfig({}).rateLimits.otherwise, undefined)
  })

  for (const [value, problem] of [
    ['https://a.example=fast', /is not <origin>=<n>\/s/],
    ['https://a.example/path=5/s', /not an http\(s\) origin/],
    ['ftp://a.example=5/s', /not an http\(s\) origin/],
    ['https://a.example=0/s', /above 0/],
    ['https://a.example=5/s,https://a.example:443=6/s', /listed twice/],
  ] as const) {
    it(`CALLBACK_RATE_LIMITS=${value} stops start-up naming the variable`, () => {
      assert.throws(() => loadConfig({ CALLBACK_RATE_LIMITS: value }), (error: unknown) => error instanceof ConfigError && error.variable === 'CALLBACK_RATE_LIMITS' && problem.test(error.message))
    })
  }

  it('CALLBACK_AUTO_PAUSE_AFTER: 24h by default, a duration, or off', () => {
    assert.equal(loadConfig({}).autoPauseAfterMs, 86_400_000)
    assert.equal(loadConfig({ CALLBACK_AUTO_PAUSE_AFTER: '90m' }).autoPauseAfterMs, 5_400_000)
    assert.equal(loadConfig({ CALLBACK_AUTO_PAUSE_AFTER: 'off' }).autoPauseAfterMs, undefined)
    assert.throws(() => loadConfig({ CALLBACK_AUTO_PAUSE_AFTER: 'soon' }), (error: unknown) => error instanceof ConfigError && error.variable === 'CALLBACK_AUTO_PAUSE_AFTER')
  })
})
