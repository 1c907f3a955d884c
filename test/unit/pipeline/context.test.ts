import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { timingFrom } from '../../../src/pipeline/context.ts'

describe('timingFrom', () => {
  it("a destination's attempt timeout, and a claim that outlasts it by the margin", () => {
    const timeouts = new Map([['https://slow.example', 60_000]])
    const timing = timingFrom((destination) => timeouts.get(destination) ?? 10_000, 15_000)
    assert.deepEqual(timing('https://slow.example'), { attemptMs: 60_000, claimMs: 75_000 })
    assert.deepEqual(timing('https://other.example'), { attemptMs: 10_000, claimMs: 25_000 })
  })

  it('one object per distinct timeout (asked several times per notification: no allocation)', () => {
    const timing = timingFrom(() => 10_000, 15_000)
    assert.equal(timing('https://a.example'), timing('https://b.example'))
  })

  it('follows a timeout that changed (a reloaded destinations file)', () => {
    let timeout = 5000
    const timing = timingFrom(() => timeout, 15_000)
    assert.equal(timing('https://a.example').claimMs, 20_000)
    timeout = 60_000
    assert.equal(timing('https://a.example').claimMs, 75_000)
  })
})
