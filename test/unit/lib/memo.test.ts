import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { memoByString } from '../../../src/lib/memo.ts'

describe('memoByString', () => {
  it('computes each argument once while it is remembered, undefined results included', () => {
    const calls: string[] = []
    const lengthOf = memoByString((key) => (calls.push(key), key === '' ? undefined : key.length))
    assert.equal(lengthOf('abc'), 3)
    assert.equal(lengthOf('abc'), 3)
    assert.equal(lengthOf(''), undefined)
    assert.equal(lengthOf(''), undefined)
    assert.deepEqual(calls, ['abc', ''])
  })

  it('forgets everything when full, and stays right', () => {
    const calls: string[] = []
    const upper = memoByString((key) => (calls.push(key), key.toUpperCase()), 2)
    assert.deepEqual(['a', 'b', 'c', 'a'].map(upper), ['A', 'B', 'C', 'A'])
    assert.deepEqual(calls, ['a', 'b', 'c', 'a'])
  })
})
