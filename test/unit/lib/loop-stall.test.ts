import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { loopStalledMs } from '../../../src/lib/loop-stall.ts'

/** Blocks this thread, as a long synchronous task or a freeze would. */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

describe('loopStalledMs', () => {
  it('counts the time the event loop was blocked, the gap under way included, and not time spent waiting', async () => {
    loopStalledMs()
    await sleep(120)
    const before = loopStalledMs()
    await sleep(300)
    const idle = loopStalledMs() - before
    assert.ok(idle < 40, `an idle 300 ms counted ${idle} ms of stall`)

    const start = loopStalledMs()
    block(400)
    const during = loopStalledMs() - start
    assert.ok(during >= 300 && during <= 420, `a 400 ms block read ${during} ms while under way`)
    await sleep(120)
    const after = loopStalledMs() - start
    assert.ok(after >= 330 && after <= 440, `a 400 ms block counted ${after} ms once past`)
    assert.ok(after >= during, 'never goes back')
  })
})
