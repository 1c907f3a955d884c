// CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: the cap of each callback origin's adaptive concurrency limit.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, loadConfig } from '../../../src/config.ts'
import { ConfigError } from '../../../src/errors.ts'

describe('CALLBACK_MAX_CONNECTIONS_PER_ORIGIN', () => {
  it('defaults to 256', () => {
    assert.equal(DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, 256)
    assert.equal(loadConfig({}).maxConnectionsPerOrigin, 256)
    assert.equal(loadConfig({ CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: ' ' }).maxConnectionsPerOrigin, 256)
  })

  it('takes an integer from 1 to 4096', () => {
    assert.equal(loadConfig({ CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: '1' }).maxConnectionsPerOrigin, 1)
    assert.equal(loadConfig({ CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: '64' }).maxConnectionsPerOrigin, 64)
    assert.equal(loadConfig({ CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: '4096' }).maxConnectionsPerOrigin, 4096)
  })

  for (const value of ['0', '-5', '4097', '12.5', 'many', '1e3']) {
    it(`${value}: one-line ConfigError naming the variable`, () => {
      assert.throws(
        () => loadConfig({ CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError)
          assert.equal(error.variable, 'CALLBACK_MAX_CONNECTIONS_PER_ORIGIN')
          assert.equal(error.message, `CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: must be an integer from 1 to 4096, got "${value}"`)
          return true
        },
      )
    })
  }
})
