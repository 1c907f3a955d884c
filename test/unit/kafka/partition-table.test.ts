import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PartitionTable } from '../../../src/kafka/partition-table.ts'

describe('PartitionTable', () => {
  it('keeps a value per topic and partition; getOrMake makes it once; entries lists only those set', () => {
    const table = new PartitionTable<{ n: number }>()
    let made = 0
    const first = table.getOrMake('a', 3, () => ({ n: ++made }))
    assert.equal(table.getOrMake('a', 3, () => ({ n: ++made })), first)
    assert.equal(made, 1)
    table.set('b', 0, { n: 9 })
    assert.equal(table.get('a', 0), undefined)
    assert.equal(table.get('b', 0)?.n, 9)
    table.set('a', 3, undefined)
    assert.deepEqual([...table.entries()].map(([topic, partition, value]) => [topic, partition, value.n]), [['b', 0, 9]])
    table.clear()
    assert.deepEqual([...table.entries()], [])
  })
})
