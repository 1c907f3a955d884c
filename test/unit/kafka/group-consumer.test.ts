import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { plaintextConnection } from '../../../src/kafka/connection.ts'
import { groupConsumer, lagByPartition, ownedPartitions } from '../../../src/kafka/group-consumer.ts'
import type { Logger } from '../../../src/log.ts'
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

describe('groupConsumer', () => {
  // The soak: a replica stopping on SIGTERM exited 1 when the client's own rejoin after a
  // heartbeat error failed ("Connection pool is closed") and was emitted with no listener.
  it('hears an error the client emits on the consumer itself (a rejoin that failed), and logs it, rather than end the process', async () => {
    const warnings: Array<{ fields: object; message: string }> = []
    const logger = { debug: () => undefined, warn: (fields: object, message: string) => warnings.push({ fields, message }) } as unknown as Logger
    const consumer = groupConsumer({
      name: 'input', connection: plaintextConnection(['127.0.0.1:1']), clientId: 'test', groupId: 'test-group', logger,
    })
    try {
      assert.doesNotThrow(() => consumer.emit('error', new Error('Connection pool is closed.')))
      assert.equal(warnings.length, 1)
      assert.match(warnings[0]?.message ?? '', /rejoining the group/)
    } finally {
      await consumer.close(true)
    }
  })
})
