import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MicroBatcher } from '../../../src/lib/micro-batcher.ts'

describe('MicroBatcher', () => {
  it('answers calls made in the same turn with one batch, each caller its own result', async () => {
    const batches: number[][] = []
    const batcher = new MicroBatcher<number, string>((items) => {
      batches.push([...items])
      return Promise.resolve(items.map((item) => `#${item}`))
    }, { maxBatch: 100 })
    const answers = await Promise.all([1, 2, 3].map((item) => batcher.add(item)))
    assert.deepEqual(answers, ['#1', '#2', '#3'])
    assert.deepEqual(batches, [[1, 2, 3]])
  })

  it('starts a new batch for calls made in a later turn', async () => {
    const batches: number[][] = []
    const batcher = new MicroBatcher<number, number>((items) => {
      batches.push([...items])
      return Promise.resolve(items)
    }, { maxBatch: 100 })
    await batcher.add(1)
    await Promise.all([batcher.add(2), batcher.add(3)])
    assert.deepEqual(batches, [[1], [2, 3]])
  })

  it('sends a full batch at once and keeps the rest for the next', async () => {
    const batches: number[][] = []
    const batcher = new MicroBatcher<number, number>((items) => {
      batches.push([...items])
      return Promise.resolve(items)
    }, { maxBatch: 2 })
    const answers = await Promise.all([1, 2, 3, 4, 5].map((item) => batcher.add(item)))
    assert.deepEqual(answers, [1, 2, 3, 4, 5])
    assert.deepEqual(batches, [[1, 2], [3, 4], [5]])
  })

  it('with a linger, gathers calls of later turns made within it', async () => {
    const batches: number[][] = []
    const batcher = new MicroBatcher<number, number>((items) => {
      batches.push([...items])
      return Promise.resolve(items)
    }, { maxBatch: 100, lingerMs: 30 })
    const first = batcher.add(1)
    await new Promise((resolve) => setImmediate(resolve))
    const second = batcher.add(2)
    assert.deepEqual(await Promise.all([first, second]), [1, 2])
    assert.deepEqual(batches, [[1, 2]])
  })

  it('asks a linger given as a function at each batch’s first item', async () => {
    const batches: number[][] = []
    let lingerMs = 0
    const asked: number[] = []
    const batcher = new MicroBatcher<number, number>((items) => {
      batches.push([...items])
      return Promise.resolve(items)
    }, { maxBatch: 100, lingerMs: () => (asked.push(lingerMs), lingerMs) })
    const first = batcher.add(1)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = batcher.add(2)
    await Promise.all([first, second])
    assert.deepEqual(batches, [[1], [2]], 'no linger: a batch each')
    lingerMs = 30
    const third = batcher.add(3)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const fourth = batcher.add(4)
    await Promise.all([third, fourth])
    assert.deepEqual(batches.at(-1), [3, 4], 'a 30 ms linger gathers both')
    assert.deepEqual(asked, [0, 0, 30])
  })

  it('fails every caller of a batch that failed, and only those', async () => {
    let calls = 0
    const batcher = new MicroBatcher<number, number>((items) => (++calls === 1 ? Promise.reject(new Error('redis down')) : Promise.resolve(items)), { maxBatch: 100 })
    const first = await Promise.allSettled([batcher.add(1), batcher.add(2)])
    assert.deepEqual(
      first.map((settled) => (settled.status === 'rejected' ? (settled.reason as Error).message : settled.value)),
      ['redis down', 'redis down'],
    )
    assert.equal(await batcher.add(3), 3)
  })

  it('fails the batch when the runner throws synchronously or answers the wrong number of results', async () => {
    const throwing = new MicroBatcher<number, number>(() => {
      throw new Error('bad arguments')
    }, { maxBatch: 100 })
    await assert.rejects(throwing.add(1), /bad arguments/)
    const short = new MicroBatcher<number, number>((items) => Promise.resolve(items.slice(1)), { maxBatch: 100 })
    const settled = await Promise.allSettled([short.add(1), short.add(2)])
    assert.ok(settled.every((result) => result.status === 'rejected' && /batch of 2 answered with 1 results/.test((result.reason as Error).message)))
  })
})
