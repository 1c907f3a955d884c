import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isoTime } from '../../../src/lib/iso-time.ts'

const DAY_MS = 86_400_000

describe('isoTime', () => {
  it('is toISOString at the edges of days, months, leap years, centuries and the four-digit years', () => {
    const edges = [
      0, -1, 1, 951_782_400_000 /* 2000-02-29 */, 951_868_800_000 - 1, 4_107_542_400_000 /* 2100-02-28 */, 4_107_628_800_000 /* 2100-03-01 */,
      -62_167_219_200_000 /* 0000-01-01 */, -62_167_219_200_001, 253_402_300_799_999 /* 9999-12-31 */, 253_402_300_800_000, -2_208_988_800_000 /* 1900-01-01 */,
      1_796_044_119_948, 8.64e15, -8.64e15, 1.5,
    ]
    for (const ms of edges) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
    for (let day = -800_000; day <= 3_000_000; day += 997) {
      for (const ms of [day * DAY_MS, day * DAY_MS + DAY_MS - 1, day * DAY_MS + 45_296_789]) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
    }
  })

  it('is toISOString for a million times around now', () => {
    let ms = Date.UTC(2026, 0, 1)
    for (let i = 0; i < 1_000_000; i++, ms += 31_557) assert.equal(isoTime(ms), new Date(ms).toISOString())
  })

  it('throws as toISOString does for a time a Date cannot hold', () => {
    assert.throws(() => isoTime(Number.NaN), RangeError)
    assert.throws(() => isoTime(8.64e15 + 1), RangeError)
  })
})
