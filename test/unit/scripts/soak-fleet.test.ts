import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loopState } from '../../../scripts/soak/fleet.ts'

describe('soak fleet: loopState', () => {
  it('reads each consumer loop’s in-flight count, oldest age, pause and stages, and sums the lag per group', () => {
    const text = [
      '# HELP notifications_in_flight Records being handled',
      'notifications_in_flight{loop="input"} 12',
      'notifications_in_flight{loop="retry.2s"} 2804',
      'notifications_in_flight_oldest_seconds{loop="retry.2s"} 241.5',
      'notifications_in_flight_by_stage{loop="retry.2s",stage="due"} 2800',
      'notifications_in_flight_by_stage{loop="retry.2s",stage="retry-record"} 4',
      'kafka_consumer_paused{loop="input"} 1',
      'kafka_consumer_lag{group="svc.retry.2s",topic="svc.retry.2s",partition="0"} 5',
      'kafka_consumer_lag{group="svc.retry.2s",topic="svc.retry.2s",partition="3"} 7',
      'nodejs_heap_size_used_bytes 123',
    ].join('\n')
    assert.deepEqual(loopState(text), {
      loops: { input: { inFlight: 12, paused: 1 }, 'retry.2s': { inFlight: 2804, oldest: 241.5, stages: { due: 2800, 'retry-record': 4 } } },
      lag: { 'svc.retry.2s': 12 },
    })
  })
})
