import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_TUNING } from '../../../src/config.ts'
import { memoryBudget, UNLIMITED_NODE_FLAGS } from '../../../src/runtime/memory-budget.ts'

const MIB = 1024 * 1024

function flag(flags: string[], name: string): number {
  const found = flags.find((item) => item.startsWith(`--${name}=`))
  assert.ok(found, `--${name} missing in ${flags.join(' ')}`)
  return Number(found.slice(name.length + 3))
}

describe('memory budget', () => {
  it('no limit: exactly the flags and tuning of before', () => {
    assert.deepEqual(memoryBudget(undefined), { limitMb: undefined, nodeFlags: [...UNLIMITED_NODE_FLAGS], tuning: {} })
    assert.deepEqual(UNLIMITED_NODE_FLAGS, ['--max-semi-space-size=32', '--heap-growing-percent=50'])
  })

  it('the heap (young + old caps) stays well under the limit, and shrinks with it', () => {
    let previous = 0
    for (const limit of [96, 128, 160, 192, 256, 384, 512, 1024, 4096]) {
      const { nodeFlags } = memoryBudget(limit)
      // The young generation is two semi-spaces; the rest of the process (malloc, stacks,
      // buffers: ~45 MB measured) needs the other 15 %. Measured at 256 MiB: cgroup peak 186 MiB.
      const heap = 2 * flag(nodeFlags, 'max-semi-space-size') + flag(nodeFlags, 'max-old-space-size')
      assert.ok(heap <= limit * 0.85, `${limit} MiB: heap caps ${heap} MB`)
      assert.ok(heap >= previous, `${limit} MiB: heap caps shrink with the limit`)
      previous = heap
    }
  })

  it('all loops full of record values at once still fit under the old-space cap', () => {
    for (const limit of [96, 128, 256, 512, 2048]) {
      for (const loops of [1, 10, 20]) {
        const budget = memoryBudget(limit, { loops })
        const oldCap = flag(budget.nodeFlags, 'max-old-space-size') * MIB
        const inFlightBytes = (budget.tuning.maxInFlightBytes ?? 0) * loops
        // Each value byte costs ~5 heap bytes; 20 MB is the idle service's old generation.
        assert.ok(inFlightBytes * 5 + 20 * MIB <= oldCap || budget.tuning.maxInFlightBytes === 256 * 1024, `${limit} MiB, ${loops} loops: ${inFlightBytes} bytes in flight vs ${oldCap}`)
        assert.ok((budget.tuning.maxInFlightBytes ?? 0) <= DEFAULT_TUNING.maxInFlightBytes)
      }
    }
  })

  it('fewer records and smaller fetches under a small limit, today’s from 512 MiB', () => {
    const small = memoryBudget(128).tuning
    assert.ok((small.maxInFlight ?? Infinity) < 1000 && (small.fetchMaxBytes ?? Infinity) < DEFAULT_TUNING.fetchMaxBytes)
    const large = memoryBudget(1024).tuning
    assert.equal(large.maxInFlight, 1000)
    assert.equal(large.fetchMaxBytes, DEFAULT_TUNING.fetchMaxBytes)
  })

  it('a limit below the minimum is sized as the minimum', () => {
    assert.deepEqual(memoryBudget(32).nodeFlags, memoryBudget(96).nodeFlags)
  })
})
