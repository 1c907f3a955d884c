import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ClockOffset } from '../../../src/lib/clock-offset.ts'

describe('ClockOffset', () => {
  it('takes the answer to be the middle of the round trip', () => {
    const clock = new ClockOffset()
    clock.sample(10_500, 1000, 1010)
    assert.equal(clock.offsetMs, 9495)
    assert.equal(clock.toLocal(10_505), 1010)
  })

  it('trusts the shortest round trip; a late answer does not move the offset', () => {
    const clock = new ClockOffset()
    clock.sample(5002, 1000, 1004) // offset 4000, 4 ms round trip
    clock.sample(5300, 1100, 1400) // read 300 ms late: would say 4050
    assert.equal(clock.offsetMs, 4000)
    clock.sample(5601, 1600, 1602) // a better sample
    assert.equal(clock.offsetMs, 4000)
  })

  it('replaces a sample older than its age limit whatever the next one is', () => {
    const clock = new ClockOffset(1000)
    clock.sample(5002, 1000, 1004)
    clock.sample(8000, 3000, 3100)
    assert.equal(clock.offsetMs, 4950)
  })
})
