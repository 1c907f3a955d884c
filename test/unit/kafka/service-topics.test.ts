import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig } from '../../../src/config.ts'
import { serviceTopics } from '../../../src/kafka/topics.ts'
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
