// The dead-letter topic read without a consumer group, against the real broker: all of it
// (replay), only what an earlier scan saw (a replay of what was counted), the newest letters
// (dashboard, bounded in bytes), one letter at an offset.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { plaintextConnection } from '../../src/kafka/connection.ts'
import { ensureTopics } from '../../src/kafka/topics.ts'
import { DeadLetterReader } from '../../src/replay/dead-letters.ts'
import { BROKERS, produce } from '../helpers/kafka.ts'

const topic = `reader-${randomUUID().slice(0, 8)}.dlq`
let reader: DeadLetterReader

/** A dead letter as the service writes it, with `pad` bytes of original record. */
function letter(processingId: number, pad = 0): string {
  return JSON.stringify({
    reason: `test letter ${processingId}`,
    code: 'DELIVERY_GONE',
    source: { topic: 'sending', partition: 0, offset: String(processingId), key: 'new_sending', timestamp: null },
    original: 'x'.repeat(pad),
    original_truncated: false,
    processing_id: processingId,
    attempts: 1,
    last_error: 'callback answered 410 Gone',
    last_status_code: 410,
    failed_at: new Date().toISOString(),
  })
}

before(async () => {
  await ensureTopics(plaintextConnection(BROKERS), 'test', [{ name: topic, configs: { 'max.message.bytes': String(8 * 1024 * 1024) } }], { partitions: 1, replicationFactor: 1 })
  reader = new DeadLetterReader({ connection: plaintextConnection(BROKERS), topic, clientId: 'test-reader' })
})

after(async () => {
  await reader?.close()
})

describe('dead-letter reader', () => {
  test('reads everything, the newest letters, one letter by offset, and a record that is not a letter', async () => {
    // One partition: offsets 0–24 are letters, 25 is not a letter.
    await produce(Array.from({ length: 25 }, (_, i) => ({ topic, value: letter(i + 1) })))
    await produce([{ topic, value: 'not json' }])

    const seen: number[] = []
    const { read, total } = await reader.scan(async (letters) => {
      for (const stored of letters) seen[Number(stored.offset)] = stored.letter?.processing_id ?? -1
      await Promise.resolve()
    })
    assert.equal(read, 26)
    assert.equal(total, 26)
    assert.deepEqual(seen, [...Array.from({ length: 25 }, (_, i) => i + 1), -1], 'every record once, in offset order; the one that is not a letter has none')
    assert.equal(await reader.count(), 26)

    const newest = await reader.latest(5)
    assert.deepEqual(newest.map((stored) => stored.offset), ['25', '24', '23', '22', '21'], 'the newest five, newest first')
    assert.equal(newest[0]?.letter, undefined)
    assert.equal(newest[1]?.letter?.processing_id, 25)

    const pick = newest[1]
    assert.ok(pick)
    const again = await reader.at(pick.partition, BigInt(pick.offset))
    assert.deepEqual(again?.letter, pick.letter)
    assert.equal(await reader.at(pick.partition, 10_000n), undefined)
  })

  test('a scan bounded by the ends of an earlier scan reads only what that scan saw', async () => {
    const own = `${topic}.bounded`
    await ensureTopics(plaintextConnection(BROKERS), 'test', [{ name: own }], { partitions: 3, replicationFactor: 1 })
    const bounded = new DeadLetterReader({ connection: plaintextConnection(BROKERS), topic: own, clientId: 'test-reader-bounded' })
    try {
      await produce([1, 2, 3, 4, 5, 6].map((id) => ({ topic: own, value: letter(id), partition: id % 3 })))
      const counted = await bounded.scan(() => Promise.resolve())
      assert.equal(counted.read, 6)
      await produce([7, 8, 9].map((id) => ({ topic: own, value: letter(id), partition: id % 3 })))
      const seen: Array<number | null | undefined> = []
      const again = await bounded.scan(async (letters) => {
        seen.push(...letters.map((stored) => stored.letter?.processing_id))
        await Promise.resolve()
      }, counted.ends)
      assert.deepEqual([again.read, again.total], [6, 6])
      assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6], 'the letters the earlier scan saw, nothing written since')
      assert.equal((await bounded.scan(() => Promise.resolve())).read, 9, 'unbounded, the new letters are read')
    } finally {
      await bounded.close()
    }
  })

  test('the newest letters stop at the byte budget per partition, keeping the newest', async () => {
    const big = 700 * 1024
    const ids = Array.from({ length: 12 }, (_, i) => 1000 + i)
    for (const id of ids) await produce([{ topic, value: letter(id, big) }])
    assert.equal((await reader.latest(50, Number.MAX_SAFE_INTEGER)).length, 38, 'without a byte budget, all 38 records')
    // With 2 MiB: the first step back (10 records of 700 KiB) passes the budget, so reading stops there.
    const newest = await reader.latest(50, 2 * 1024 * 1024)
    assert.deepEqual(
      newest.map((stored) => stored.letter?.processing_id),
      ids.slice(-10).reverse(),
      'the ten newest, newest first; nothing older was read',
    )
  })
})
