import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig } from '../../../src/config.ts'
import { retryTiers } from '../../../src/names.ts'
import { memoryBudget } from '../../../src/runtime/memory-budget.ts'
import { sizeToMemory } from '../../../src/runtime/service-sizing.ts'

describe('sizeToMemory', () => {
  it('shares the in-flight bytes over the loops the replica runs: one per distinct retry delay, plus the input loop', () => {
    // Four retries, three distinct delays: three retry loops and the input loop.
    const loaded = loadConfig({ RETRY_SCHEDULE: '5s,30s,30s,2m', MEMORY_LIMIT_MB: '256' })
    assert.equal(retryTiers(loaded.kafka.groupId, loaded.retryScheduleMs).length, 3)
    const { config, limit, budget } = sizeToMemory(loaded)
    assert.deepEqual(limit, { mb: 256, source: 'MEMORY_LIMIT_MB' })
    assert.equal(config.tuning.maxInFlightBytes, memoryBudget(256, { loops: 4 }).tuning.maxInFlightBytes)
    assert.ok(config.tuning.maxInFlightBytes > memoryBudget(256, { loops: 5 }).tuning.maxInFlightBytes!, 'more per loop than with a loop per retry')
    assert.deepEqual(budget.nodeFlags, memoryBudget(256).nodeFlags)
  })

  it('without a limit: the loaded tuning as it was', () => {
    const loaded = loadConfig({})
    const { config, budget } = sizeToMemory(loaded, undefined)
    assert.deepEqual(config.tuning, loaded.tuning)
    assert.deepEqual(budget.tuning, {})
  })
})
