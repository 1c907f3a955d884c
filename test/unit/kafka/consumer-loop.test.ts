import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { commitOffset } from '../../../src/kafka/consumer-loop.ts'

type Callback = (error?: Error | null) => void

describe('commitOffset', () => {
  it('resolves when the client reports the commit done', async () => {
    let calls = 0
    const handle = ((callback: Callback) => (calls++, callback(null))) as never
    await commitOffset(handle)
    assert.equal(calls, 1)
  })

  it('rejects with the client’s error when the commit failed', async () => {
    const failure = new Error('REBALANCE_IN_PROGRESS')
    const handle = ((callback: Callback) => void setImmediate(() => callback(failure))) as never
    await assert.rejects(commitOffset(handle), failure)
  })
})
