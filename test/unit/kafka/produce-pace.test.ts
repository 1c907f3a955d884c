import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ProducePace } from '../../../src/kafka/produce-pace.ts'

describe('ProducePace', () => {
  it('starts at the least wait and stays there while requests come back at once', () => {
    const pace = new ProducePace({ minMs: 2, maxMs: 50 })
    assert.equal(pace.lingerMs, 2)
    for (let i = 0; i < 50; i++) pace.answered(1)
    assert.equal(pace.lingerMs, 2)
  })

  it('waits half as long as requests lately took, within its bounds', () => {
    const pace = new ProducePace({ minMs: 2, maxMs: 50 })
    for (let i = 0; i < 60; i++) pace.answered(4)
    assert.equal(pace.lingerMs, 2, 'a fast local broker: as before')
    for (let i = 0; i < 60; i++) pace.answered(30)
    assert.equal(pace.lingerMs, 15)
    for (let i = 0; i < 60; i++) pace.answered(400)
    assert.equal(pace.lingerMs, 50, 'never longer than maxMs')
  })

  it('one slow request moves it a tenth of the way; it comes back down as requests do', () => {
    const pace = new ProducePace({ minMs: 2, maxMs: 50 })
    pace.answered(102)
    assert.equal(pace.lingerMs, 6)
    for (let i = 0; i < 40; i++) pace.answered(2)
    assert.equal(pace.lingerMs, 2)
  })

  it('refuses bounds that cannot hold', () => {
    assert.throws(() => new ProducePace({ minMs: 10, maxMs: 5 }), RangeError)
  })
})
