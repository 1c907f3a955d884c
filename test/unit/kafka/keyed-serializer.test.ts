import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { KeyedSerializer } from '../../../src/kafka/keyed-serializer.ts'

function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('KeyedSerializer', () => {
  it('runs tasks with the same key in order, one at a time', async () => {
    const serializer = new KeyedSerializer<number>()
    const events: string[] = []
    const gates = [deferred(), deferred(), deferred()]
    let running = 0
    let maxRunning = 0
    const results = gates.map((gate, i) =>
      serializer.run(1, async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        events.push(`start ${i}`)
        await gate.promise
        events.push(`end ${i}`)
        running--
        return i
      }),
    )
    await tick()
    assert.deepEqual(events, ['start 0'])
    gates[2]!.resolve()
    gates[1]!.resolve()
    await tick()
    assert.deepEqual(events, ['start 0'], 'later tasks wait even when their own work is ready')
    gates[0]!.resolve()
    assert.deepEqual(await Promise.all(results), [0, 1, 2])
    assert.deepEqual(events, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2'])
    assert.equal(maxRunning, 1)
  })

  it('runs tasks with different keys concurrently', async () => {
    const serializer = new KeyedSerializer<string>()
    const started: string[] = []
    const gateA = deferred()
    const gateB = deferred()
    const a = serializer.run('a', async () => {
      started.push('a')
      await gateA.promise
    })
    const b = serializer.run('b', async () => {
      started.push('b')
      await gateB.promise
    })
    await tick()
    assert.deepEqual(started, ['a', 'b'])
    gateB.resolve()
    await b
    gateA.resolve()
    await a
  })

  it('does not let a rejected task block the next one for that key', async () => {
    const serializer = new KeyedSerializer<number>()
    const gate = deferred()
    const first = serializer.run(7, async () => {
      await gate.promise
      throw new Error('boom')
    })
    let secondStarted = false
    const second = serializer.run(7, () => {
      secondStarted = true
      return Promise.resolve('ok')
    })
    await tick()
    assert.equal(secondStarted, false)
    gate.resolve()
    await assert.rejects(first, /boom/)
    assert.equal(await second, 'ok')
    assert.equal(secondStarted, true)
  })

  it('passes each task its own result or rejection', async () => {
    const serializer = new KeyedSerializer<number>()
    const rejected = serializer.run(1, () => Promise.reject(new Error('first')))
    const resolved = serializer.run(1, () => Promise.resolve(42))
    await assert.rejects(rejected, /first/)
    assert.equal(await resolved, 42)
  })

  it('forgets a key once every task of it is done: a new task for it starts at once', async () => {
    const serializer = new KeyedSerializer<number>()
    const gate = deferred()
    const tasks = [
      serializer.run(1, () => gate.promise),
      serializer.run(1, () => Promise.resolve()),
      serializer.run(2, () => Promise.reject(new Error('x'))),
    ]
    gate.resolve()
    await Promise.allSettled(tasks)
    await tick()
    for (const key of [1, 2]) {
      let started = false
      void serializer.run(key, () => ((started = true), Promise.resolve()))
      assert.equal(started, true, `key ${key}: started in the same tick, behind nothing`)
    }
  })

  it('keeps the key while a later task for it is queued', async () => {
    const serializer = new KeyedSerializer<number>()
    const gate1 = deferred()
    const gate2 = deferred()
    const first = serializer.run(1, () => gate1.promise)
    const second = serializer.run(1, () => gate2.promise)
    gate1.resolve()
    await first
    await tick()
    let thirdStarted = false
    const third = serializer.run(1, () => ((thirdStarted = true), Promise.resolve()))
    assert.equal(thirdStarted, false, 'queued behind the second, still running')
    gate2.resolve()
    await second
    await third
    assert.equal(thirdStarted, true)
  })
})
