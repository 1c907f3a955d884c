import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MultipleErrors, NetworkError, UserError } from '@platformatic/kafka'
import { InfrastructureError, Interrupted, NotificationError, ErrorCodes, canRetry } from '../../src/errors.ts'
import { retryUntilDone } from '../../src/retry.ts'

const unavailable = () => new InfrastructureError(ErrorCodes.STORE_UNAVAILABLE, 'down')

describe('retryUntilDone', () => {
  it('tries again what may succeed, telling each failure, until it succeeds', async () => {
    let tries = 0
    const told: unknown[] = []
    const value = await retryUntilDone(
      () => (++tries < 3 ? Promise.reject(unavailable()) : Promise.resolve('ok')),
      { signal: new AbortController().signal, waitMs: 1, onRetry: (error) => told.push(error) },
    )
    assert.equal(value, 'ok')
    assert.equal(tries, 3)
    assert.equal(told.length, 2)
  })

  it('with a try timeout, gives up on a try that hangs and tries again, telling which step took too long', async () => {
    let tries = 0
    const told: string[] = []
    const value = await retryUntilDone(
      () => (++tries === 1 ? new Promise<string>(() => undefined) : Promise.resolve('ok')),
      { signal: new AbortController().signal, waitMs: 1, tryTimeout: { ms: 20, what: 'reading origin pauses' }, onRetry: (error) => told.push((error as Error).message) },
    )
    assert.equal(value, 'ok')
    assert.equal(tries, 2)
    assert.deepEqual(told, ['reading origin pauses took longer than 20 ms'])
  })

  it('throws at once what retrying cannot help', async () => {
    let tries = 0
    const final = new NotificationError(ErrorCodes.KAFKA_REJECTED, 'too large', false)
    await assert.rejects(retryUntilDone(() => (tries++, Promise.reject(final)), { signal: new AbortController().signal, waitMs: 1 }), final)
    assert.equal(tries, 1)
  })

  it('stops waiting at shutdown with Interrupted, without another try', async () => {
    const stopping = new AbortController()
    let tries = 0
    const running = retryUntilDone(() => (tries++, Promise.reject(unavailable())), { signal: stopping.signal, waitMs: 60_000 })
    await new Promise((resolve) => setImmediate(resolve))
    stopping.abort()
    await assert.rejects(running, Interrupted)
    assert.equal(tries, 1)
  })

  it('after shutdown began, tries once only work that must be settled', async () => {
    const stopped = AbortSignal.abort()
    await assert.rejects(retryUntilDone(() => Promise.resolve(1), { signal: stopped, waitMs: 1 }), Interrupted)
    assert.equal(await retryUntilDone(() => Promise.resolve(1), { signal: stopped, waitMs: 1, evenIfStopping: true }), 1)
    await assert.rejects(retryUntilDone(() => Promise.reject(unavailable()), { signal: stopped, waitMs: 1, evenIfStopping: true }), Interrupted)
  })
})

describe('canRetry (the Kafka client rule for a chain of errors)', () => {
  it('is yes unless some error in the chain says no', () => {
    assert.equal(canRetry(new Error('plain')), true)
    assert.equal(canRetry(unavailable()), true)
    assert.equal(canRetry(new NotificationError(ErrorCodes.KAFKA_REJECTED, 'x', false)), false)
  })

  it('reads causes and aggregated errors: a "no" wins over the "yes" of errors beside it', () => {
    const no = Object.assign(new Error('MESSAGE_TOO_LARGE'), { canRetry: false })
    const yes = Object.assign(new Error('network'), { canRetry: true })
    assert.equal(canRetry(new AggregateError([yes, no], 'produce failed')), false)
    assert.equal(canRetry(Object.assign(new AggregateError([yes], 'x'), { canRetry: true })), true)
    assert.equal(canRetry(new Error('outer', { cause: new AggregateError([new Error('inner', { cause: no })]) })), false)
  })

  it('a cause is read only under an error that says nothing itself: a "yes" has judged its cause', () => {
    const no = Object.assign(new Error('MESSAGE_TOO_LARGE'), { canRetry: false })
    assert.equal(canRetry(Object.assign(new Error('wrapper', { cause: no }), { canRetry: true })), true)
    assert.equal(canRetry(new Error('wrapper', { cause: no })), false)
  })

  it('a TLS connection closed mid-handshake (a broker going down or starting) can be retried, as the client itself does', () => {
    // The chain @platformatic/kafka builds (network/connection.js) when the socket closes before the handshake ends.
    const closed = Object.assign(new Error('Client network socket disconnected before secure TLS connection was established'), { code: 'ECONNRESET' })
    const handshake = new NetworkError('Connection to 127.0.0.1:19092 failed.', { cause: new UserError('TLS handshake failed. Please verify the broker supports TLS.', { cause: closed }) })
    const produce = new MultipleErrors('metadata failed 6 times.', [new MultipleErrors('Cannot connect to any broker.', [handshake])])
    assert.equal(canRetry(produce), true)
    assert.equal(canRetry(new MultipleErrors('produce failed.', [handshake, new UserError('Failed to serialize a message.')])), false, 'a "no" among the aggregated errors still wins')
  })

  it('survives a chain that points back at itself', () => {
    const looped = new Error('a') as Error & { cause?: unknown }
    looped.cause = looped
    assert.equal(canRetry(looped), true)
  })
})
