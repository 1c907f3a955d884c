import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RecordsInHand } from '../../../src/kafka/records-in-hand.ts'

describe('RecordsInHand', () => {
  it('takes a record once; a copy of it (same topic, partition, offset by value) waits until it is released', () => {
    const inHand = new RecordsInHand<string>()
    assert.equal(inHand.take('in', 0, 5n, 'first'), true)
    // The client makes a new bigint for every fetch: equal by value is the same record.
    assert.equal(inHand.take('in', 0, BigInt('5'), 'second'), false)
    assert.equal(inHand.take('in', 0, 5n, 'third'), false)
    assert.equal(inHand.take('in', 1, 5n, 'other partition'), true)
    assert.equal(inHand.take('retry', 0, 5n, 'other topic'), true)
    assert.equal(inHand.take('in', 0, 6n, 'other offset'), true)
    assert.equal(inHand.size, 4)
    assert.deepEqual(inHand.release('in', 0, 5n), ['second', 'third'])
    assert.equal(inHand.release('in', 0, 6n), undefined, 'no copy fetched meanwhile')
    assert.equal(inHand.take('in', 0, 5n, 'again'), true, 'once released, taken again')
    assert.equal(inHand.size, 3)
  })

  it('releasing a record it does not hold changes nothing', () => {
    const inHand = new RecordsInHand<string>()
    inHand.take('in', 0, 1n, 'a')
    assert.equal(inHand.release('in', 0, 2n), undefined)
    assert.equal(inHand.release('in', 3, 1n), undefined)
    assert.equal(inHand.release('out', 0, 1n), undefined)
    assert.equal(inHand.size, 1)
  })
})
