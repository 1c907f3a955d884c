import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import slotOf from 'cluster-key-slot'
import { tierAfter } from '../../src/delivery/retry-policy.ts'
import { loadConfig } from '../../src/config.ts'
import { consumerLoopCount, INPUT_TOPICS, inputTopics, notificationKeys, ourKeyFor, retryTiers } from '../../src/names.ts'

describe('notificationKeys', () => {
  it('builds the contract key for a sent result, and keys of their own for other kinds', () => {
    assert.deepEqual(notificationKeys('result', 42), {
      done: 'processed_messages:42',
      claim: 'notification_lock:{processed_messages:42}',
      status: 'notification_status:{processed_messages:42}',
      attempts: 'notification_attempts:{processed_messages:42}',
      letter: 'notification_dead_letter:{processed_messages:42}',
    })
    assert.equal(notificationKeys('accepted', 42).done, 'processed_messages:42:accepted')
  })

  it('puts every key of one notification in the Redis Cluster slot of its done marker', () => {
    for (const kind of ['result', 'accepted'] as const) {
      const keys = notificationKeys(kind, 987_654_321)
      const slots = new Set(Object.values(keys).map((key: string) => slotOf(key)))
      assert.deepEqual([...slots], [slotOf(keys.done)], kind)
    }
    assert.notEqual(slotOf(notificationKeys('result', 1).done), slotOf(notificationKeys('result', 2).done), 'notifications spread over slots')
  })
})

describe('retryTiers', () => {
  const schedule = [5000, 30_000, 120_000, 30_000]

  it('makes one tier per distinct delay, named after the group and the delay', () => {
    assert.deepEqual(
      retryTiers('notification_service', schedule).map((tier) => [tier.topic, tier.groupId]),
      [
        ['notification_service.retry.5s', 'notification_service.retry.5s'],
        ['notification_service.retry.30s', 'notification_service.retry.30s'],
        ['notification_service.retry.2m', 'notification_service.retry.2m'],
      ],
    )
  })

  it('keeps topic names valid whatever the group id contains', () => {
    const [tier] = retryTiers('team a/notifications', [1500])
    assert.equal(tier?.topic, 'team_a_notifications.retry.1500ms')
    assert.equal(tier?.groupId, 'team a/notifications.retry.1500ms')
  })

  it('picks the tier of the delay that follows the attempts made, and none after the schedule', () => {
    const tiers = retryTiers('g', schedule)
    assert.equal(tierAfter(tiers, schedule, 1)?.delayMs, 5000)
    assert.equal(tierAfter(tiers, schedule, 2)?.delayMs, 30_000)
    assert.equal(tierAfter(tiers, schedule, 4)?.topic, 'g.retry.30s')
    assert.equal(tierAfter(tiers, schedule, 5), undefined)
  })
})

describe('consumerLoopCount', () => {
  it('is the input loop plus one per distinct retry delay', () => {
    assert.equal(consumerLoopCount('g', [5000, 5000, 30_000]), 3)
    assert.equal(consumerLoopCount('g', [5000]), 2)
  })
})

describe('input topics', () => {
  const topics = loadConfig({ KAFKA_TOPIC_FOR_SENDING: 's1', KAFKA_TOPIC_FOR_AI_HANDLER: 'a1' }).kafka.topics

  it('are consumed in the order of the table, each with the key its own records carry (contract §1)', () => {
    assert.deepEqual(inputTopics(topics), ['s1', 'a1'])
    assert.deepEqual(
      INPUT_TOPICS.map((row) => row.key),
      ['new_sending', 'new_request'],
    )
    assert.equal(ourKeyFor(topics, 's1'), 'new_sending')
    assert.equal(ourKeyFor(topics, 'a1'), 'new_request')
    assert.equal(ourKeyFor(topics, 'notifications.dlq'), undefined)
  })
})
