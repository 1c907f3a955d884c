import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isoTime } from '../../../src/lib/iso-time.ts'

describe('isoTime', () => {
  it('is toISOString, also when asked for the same millisecond again and after another one', () => {
    for (const ms of [0, 1796044119948, 1796044119948, 1796044119949, -1, 1796044119948, 8.64e15]) {
      assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
    }
  })
})
