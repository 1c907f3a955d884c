import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatDuration, parseDuration } from '../../../src/lib/duration.ts'

describe('parseDuration', () => {
  it('parses each unit', () => {
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration('5s'), 5000)
    assert.equal(parseDuration('2m'), 120_000)
    assert.equal(parseDuration('1h'), 3_600_000)
    assert.equal(parseDuration('1d'), 86_400_000)
  })

  it('treats a bare number as seconds', () => {
    assert.equal(parseDuration('30'), 30_000)
  })

  it('accepts decimals and rounds to whole milliseconds', () => {
    assert.equal(parseDuration('1.5s'), 1500)
    assert.equal(parseDuration('0.0015s'), 2)
  })

  it('trims surrounding whitespace', () => {
    assert.equal(parseDuration('  10m '), 600_000)
  })

  it('returns undefined for text that is not a duration', () => {
    for (const text of ['', '5x', 'abc', '-5s', '5 s', 's', '1e3s', '5sec', '1h30m']) {
      assert.equal(parseDuration(text), undefined, text)
    }
  })

  it('accepts zero', () => {
    assert.equal(parseDuration('0s'), 0)
  })
})

describe('formatDuration', () => {
  it('uses the largest unit that divides exactly', () => {
    assert.equal(formatDuration(2 * 86_400_000), '2d')
    assert.equal(formatDuration(3 * 3_600_000), '3h')
    assert.equal(formatDuration(90 * 60_000), '90m')
    assert.equal(formatDuration(30_000), '30s')
    assert.equal(formatDuration(1500), '1500ms')
  })

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 5000, 120_000, 3_600_000, 43_200_000, 86_400_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms)
    }
  })
})
