import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { lagByPartition, ownedPartitions } from '../../../src/kafka/group-membership.ts'
import { partitionKey } from '../../../src/kafka/offset-tracker.ts'

describe('ownedPartitions', () => {
  it('names every assigned partition as the offset tracker does', () => {
    const owned = ownedPartitions([{ topic: 'in', partitions: [0, 2] }, { topic: 'retry.5s', partitions: [1] }])
    assert.deepEqual([...owned].sort(), [partitionKey('in', 0), partitionKey('in', 2), partitionKey('retry.5s', 1)].sort())
  })

  it('is empty before any assignment', () => {
    assert.equal(ownedPartitions(null).size, 0)
    assert.equal(ownedPartitions(undefined).size, 0)
    assert.equal(ownedPartitions([]).size, 0)
  })
})

describe('lagByPartition', () => {
  it('lists the lag of each partition, leaving out those the client could not measure', () => {
    const lag = new Map([['in', [3n, -1n, 0n]], ['retry.5s', [12n]]])
    assert.deepEqual(lagByPartition(lag), [
      { topic: 'in', partition: 0, lag: 3 },
      { topic: 'in', partition: 2, lag: 0 },
      { topic: 'retry.5s', partition: 0, lag: 12 },
    ])
    assert.deepEqual(lagByPartition(new Map()), [])
  })
})
