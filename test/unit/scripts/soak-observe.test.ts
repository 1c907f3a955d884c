// The soak's lag line says when its last sample is stale, so a sampler that gets no answer
// (a CI soak once printed one lag for its last three minutes) shows as such.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Fleet } from '../../../scripts/soak/fleet.ts'
import { Observer } from '../../../scripts/soak/observe.ts'

describe('soak observer: the lag line', () => {
  it('no sample yet, a fresh one, a stale one', () => {
    const observer = new Observer('group', {} as Fleet)
    assert.equal(observer.describeLag(1_000), '? (no sample yet)')
    observer.lag.push([1_000, 42])
    assert.equal(observer.describeLag(5_000), '42')
    assert.equal(observer.describeLag(61_000), '42 (sampled 60 s ago; since: none taken)')
  })
})
