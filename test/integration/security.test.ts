// What a client can trust and what strangers cannot make us do: signed requests (checked
// with the Standard Webhooks reference verifier, not our own code) and refused private
// callback addresses, end to end against the real broker and Redis.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { produce, readTopic, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { startService, testEnv } from '../helpers/service.ts'
import { startTinyproxy } from '../helpers/tinyproxy.ts'

let receiver: Receiver

before(async () => {
  receiver = await startReceiver()
})

after(async () => {
  await receiver?.close()
})

describe('security', () => {
  test('with two secrets (rotation) each request carries two signatures, each verified by the reference verifier', async () => {
    const oldSecret = `whsec_${randomBytes(24).toString('base64')}`
    const newSecret = `whsec_${randomBytes(32).toString('base64')}`
    const topics = uniqueTopics('signed')
    const service = await startService(testEnv(topics, { WEBHOOK_SECRET: `${oldSecret} ${newSecret}` }))
    try {
      const id = newProcessingId()
      await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/signed/${id}`)) }])
      const [request] = await receiver.waitFor(1, 20_000, (r) => r.path === `/signed/${id}`)
      assert.ok(request)
      const headers = {
        'webhook-id': String(request.headers['webhook-id']),
        'webhook-timestamp': String(request.headers['webhook-timestamp']),
        'webhook-signature': String(request.headers['webhook-signature']),
      }
      assert.equal(headers['webhook-signature'].split(' ').length, 2)
      for (const secret of [oldSecret, newSecret]) assert.doesNotThrow(() => new Webhook(secret).verify(request.body, headers))
      assert.throws(() => new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify(request.body, headers))
      assert.throws(() => new Webhook(newSecret).verify(request.body.replace('"score":50', '"score":99'), headers), 'a changed body fails')
    } finally {
      await service.close()
    }
  })

  test('a callback URL that resolves to a loopback address is refused without a request and dead-lettered with the reason', async () => {
    const topics = uniqueTopics('ssrf')
    const service = await startService(testEnv(topics, { CALLBACK_ALLOWED_NETWORKS: '' }))
    try {
      const byName = newProcessingId()
      const byAddress = newProcessingId()
      const port = receiver.port
      await produce([
        { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(byName, `http://localhost:${port}/ssrf/${byName}`)) },
        { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(byAddress, `http://[::ffff:127.0.0.1]:${port}/ssrf/${byAddress}`)) },
      ])
      const letters = (await readTopic(topics.KAFKA_TOPIC_DLQ, 2, 20_000)).map((record) => JSON.parse(record.value) as { processing_id: number; code: string; attempts: number; reason: string })
      assert.deepEqual(letters.map((letter) => letter.processing_id).sort(), [byName, byAddress].sort())
      for (const letter of letters) {
        assert.equal(letter.code, 'CALLBACK_ADDRESS_BLOCKED')
        assert.equal(letter.attempts, 1, 'final at once, never retried')
        assert.match(letter.reason, /non-public address/)
      }
      assert.equal(receiver.requests.filter((r) => r.path.startsWith('/ssrf/')).length, 0)
    } finally {
      await service.close()
    }
  })

  test('IPv6 callback hosts that carry a loopback IPv4 address (mapped, compatible, NAT64) are refused and dead-lettered', async () => {
    const topics = uniqueTopics('ssrf6')
    // Loopback not allowed: the test env's default allow-list (127.0.0.0/8) would let the
    // mapped and compatible forms through, by design (they are judged as 127.0.0.1).
    const service = await startService(testEnv(topics, { CALLBACK_ALLOWED_NETWORKS: '' }))
    try {
      const port = receiver.port
      const hosts = ['[::ffff:127.0.0.1]', '[0:0:0:0:0:FFFF:7F00:1]', '[::127.0.0.1]', '[64:ff9b::7f00:1]', '[64:FF9B::127.0.0.1]', '[64:ff9b:1::7f00:1]', '[::ffff:169.254.169.254]']
      const cases = hosts.map((host) => ({ host, id: newProcessingId() }))
      await produce(cases.map(({ host, id }) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `http://${host}:${port}/ssrf6/${id}`)) })))
      const letters = (await readTopic(topics.KAFKA_TOPIC_DLQ, cases.length, 20_000)).map((record) => JSON.parse(record.value) as { processing_id: number; code: string; attempts: number; reason: string })
      assert.deepEqual(letters.map((letter) => letter.processing_id).sort(), cases.map(({ id }) => id).sort())
      for (const letter of letters) {
        assert.equal(letter.code, 'CALLBACK_ADDRESS_BLOCKED', `${letter.processing_id}: ${letter.reason}`)
        assert.equal(letter.attempts, 1, 'final at once, never retried')
        assert.match(letter.reason, /non-public address/)
      }
      assert.equal(receiver.requests.filter((r) => r.path.startsWith('/ssrf6/')).length, 0)
    } finally {
      await service.close()
    }
  })

  test('an IPv4-mapped callback host is judged by its IPv4 address against the allow-list too', async () => {
    const topics = uniqueTopics('mapped')
    const service = await startService(testEnv(topics, { CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/8' }))
    try {
      const id = newProcessingId()
      await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `http://[::ffff:127.0.0.1]:${receiver.port}/mapped/${id}`)) }])
      const [request] = await receiver.waitFor(1, 20_000, (r) => r.path === `/mapped/${id}`)
      assert.ok(request, 'delivered to 127.0.0.1 through its mapped form')
    } finally {
      await service.close()
    }
  })

  test('through CALLBACK_PROXY_URL (tinyproxy): a callback by name is tunnelled to its checked address; a refused one never reaches the proxy', async () => {
    const proxy = await startTinyproxy()
    const topics = uniqueTopics('proxy')
    const service = await startService(testEnv(topics, { CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/8', CALLBACK_PROXY_URL: proxy.url }))
    try {
      const allowed = newProcessingId()
      const metadata = newProcessingId()
      const port = receiver.port
      await produce([
        { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(allowed, `http://localhost:${port}/proxied/${allowed}`)) },
        { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(metadata, `http://169.254.169.254/latest/meta-data/${metadata}`)) },
      ])
      const [request] = await receiver.waitFor(1, 20_000, (r) => r.path === `/proxied/${allowed}`)
      assert.ok(request)
      assert.equal(request.headers.host, `localhost:${port}`)
      assert.match(request.body, new RegExp(`"processing_id":${allowed}`))
      const [letter] = (await readTopic(topics.KAFKA_TOPIC_DLQ, 1, 20_000)).map((record) => JSON.parse(record.value) as { processing_id: number; code: string })
      assert.equal(letter?.processing_id, metadata)
      assert.equal(letter.code, 'CALLBACK_ADDRESS_BLOCKED')
      assert.deepEqual(proxy.connects(), [`127.0.0.1:${port}`], 'the proxy saw the checked address only')
      assert.equal(proxy.requests().length, 1)
    } finally {
      await service.close()
      await proxy.close()
    }
  })
})
