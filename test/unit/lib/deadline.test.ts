import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TIMED_OUT, settleWithin, withDeadline } from '../../../src/lib/deadline.ts'

/** Timers started and cleared while `run` runs, to show the deadline's timer is cleared. */
async function countTimers(run: () => Promise<unknown>): Promise<{ started: number; cleared: number }> {
  const counts = { started: 0, cleared: 0 }
  const { setTimeout: originalSet, clearTimeout: originalClear } = globalThis
  globalThis.setTimeout = ((...args: Parameters<typeof originalSet>) => (counts.started++, originalSet(...args))) as typeof originalSet
  globalThis.clearTimeout = ((timer: Parameters<typeof originalClear>[0]) => (timer !== undefined && counts.cleared++, originalClear(timer)))
  try {
    await run()
  } finally {
    globalThis.setTimeout = originalSet
    globalThis.clearTimeout = originalClear
  }
  return counts
}

describe('settleWithin', () => {
  it('gives the value of a promise that settles in time, and clears its timer', async () => {
    let value: unknown
    const timers = await countTimers(async () => (value = await settleWithin(Promise.resolve(7), 60_000)))
    assert.equal(value, 7)
    assert.deepEqual(timers, { started: 1, cleared: 1 })
  })

  it('passes a rejection through, and clears its timer', async () => {
    const timers = await countTimers(() => assert.rejects(settleWithin(Promise.reject(new Error('boom')), 60_000), /boom/))
    assert.deepEqual(timers, { started: 1, cleared: 1 })
  })

  it('gives TIMED_OUT for a promise that does not settle in time', async () => {
    assert.equal(await settleWithin(new Promise(() => undefined), 5), TIMED_OUT)
  })
})

describe('withDeadline', () => {
  it('gives the value in time, and rejects naming what took too long', async () => {
    assert.equal(await withDeadline(Promise.resolve('ok'), 60_000, 'joining'), 'ok')
    await assert.rejects(withDeadline(new Promise(() => undefined), 5, 'leaving the group'), /^Error: leaving the group took longer than 5 ms$/)
  })
})
