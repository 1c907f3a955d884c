import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig } from '../../../src/config.ts'
import { creationConfigs, replicationFactorFor, serviceTopics } from '../../../src/kafka/topics.ts'
import { retryTiers } from '../../../src/names.ts'

describe('serviceTopics', () => {
  it('lists the input topics, the outcomes, the dead letters and every retry tier, with retention for those we own', () => {
    const config = loadConfig({ RETRY_SCHEDULE: '5s,30d,5s' })
    const specs = serviceTopics(config.kafka.topics, retryTiers(config.kafka.groupId, config.retryScheduleMs))
    assert.deepEqual(
      specs.map((spec) => [spec.name, spec.configs?.['retention.ms']]),
      [
        ['sending', undefined],
        ['AI_handler', undefined],
        ['notifications', undefined],
        ['notifications.dlq', String(30 * 86_400_000)],
        ['notification_service.retry.5s', String(7 * 86_400_000)],
        ['notification_service.retry.30d', String(4 * 30 * 86_400_000)],
      ],
    )
  })
})

describe('topic layout', () => {
  it('replicates 3 times by default, or on every broker when there are fewer', () => {
    assert.equal(replicationFactorFor({ partitions: 6, replicationFactor: undefined }, 5), 3)
    assert.equal(replicationFactorFor({ partitions: 6, replicationFactor: undefined }, 2), 2)
    assert.equal(replicationFactorFor({ partitions: 6, replicationFactor: undefined }, 1), 1)
    assert.equal(replicationFactorFor({ partitions: 6, replicationFactor: 2 }, 5), 2, 'the setting wins')
  })

  it('asks for 2 in-sync replicas where 3 or more exist, beside the topic’s own settings', () => {
    assert.deepEqual(creationConfigs({ name: 't', configs: { 'retention.ms': '1000' } }, 3), [
      { name: 'min.insync.replicas', value: '2' },
      { name: 'retention.ms', value: '1000' },
    ])
    assert.deepEqual(creationConfigs({ name: 't' }, 2), [])
  })
})
