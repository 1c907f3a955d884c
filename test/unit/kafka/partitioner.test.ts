import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { murmur2 as libraryMurmur2 } from '@platformatic/kafka'
import { createPartitioner, murmur2 } from '../../../src/kafka/partitioner.ts'

describe('murmur2 partitioner', () => {
  it('matches the hashes of Kafka\'s own test (UtilsTest.testMurmur2)', () => {
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ]
    for (const [text, hash] of cases) assert.equal(murmur2(Buffer.from(text)), hash, text)
  })

  it('agrees with the client library\'s BigInt murmur2 on random keys of every length mod 4', () => {
    for (let i = 0; i < 2000; i++) {
      const key = randomBytes(i % 37)
      assert.equal(murmur2(key), libraryMurmur2(key), key.toString('hex'))
    }
  })

  it('gives a non-negative partition for keyed records (Kafka\'s toPositive), round-robin without a key', () => {
    const keyPartitioner = createPartitioner()
    const keys = Array.from({ length: 500 }, (_, i) => Buffer.from(String(100_000 + i)))
    for (const key of keys) {
      const partition = keyPartitioner(undefined, key)
      assert.ok(Number.isInteger(partition) && partition >= 0, String(partition))
      assert.equal(partition, murmur2(key) & 0x7fffffff)
    }
    const unkeyed = Array.from({ length: 6 }, () => keyPartitioner(undefined, undefined) % 6)
    assert.equal(new Set(unkeyed).size, 6, `unkeyed records go round: ${unkeyed.join(',')}`)
    assert.equal(new Set(keys.map((key) => keyPartitioner(undefined, key) % 6)).size, 6, 'keys spread over 6 partitions')
  })
})
