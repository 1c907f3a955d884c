import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RESUME_SHARE, hasRoom, type RoomLimits } from '../../../src/kafka/loop-room.ts'

const limits: RoomLimits = { adaptive: { value: 100 }, maxInFlight: 1000, maxInFlightBytes: 10_000 }
const load = (inFlight: number, waitingLong = 0, bytesInFlight = 0) => ({ inFlight, waitingLong, bytesInFlight })

describe('hasRoom', () => {
  it('takes records up to the adaptive limit, not one more', () => {
    assert.equal(hasRoom(load(99), limits, 1), true)
    assert.equal(hasRoom(load(100), limits, 1), false)
  })

  it('does not count records waiting long on others against the adaptive limit', () => {
    assert.equal(hasRoom(load(150, 60), limits, 1), true)
    assert.equal(hasRoom(load(150, 50), limits, 1), false)
  })

  it('holds every record, waiting or not, to maxInFlight', () => {
    assert.equal(hasRoom(load(1000, 999), limits, 1), false)
  })

  it('follows the adaptive limit as it moves', () => {
    const adaptive = { value: 10 }
    const moving: RoomLimits = { ...limits, adaptive }
    assert.equal(hasRoom(load(20), moving, 1), false)
    adaptive.value = 30
    assert.equal(hasRoom(load(20), moving, 1), true)
  })

  it('bounds the bytes in flight, but always has room for a first record however large', () => {
    assert.equal(hasRoom(load(5, 0, 10_000), limits, 1), false)
    assert.equal(hasRoom(load(5, 0, 9_999), limits, 1), true)
    assert.equal(hasRoom(load(0, 0, 0), { ...limits, maxInFlightBytes: 0 }, 1), true)
  })

  it('resumes only once a quarter of the room is free', () => {
    assert.equal(RESUME_SHARE, 0.75)
    assert.equal(hasRoom(load(80), limits, RESUME_SHARE), false)
    assert.equal(hasRoom(load(74), limits, RESUME_SHARE), true)
    assert.equal(hasRoom(load(10, 0, 7_500), limits, RESUME_SHARE), false)
  })
})
