import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import { Cluster } from 'ioredis'
import type { RedisSettings } from '../../../src/config.ts'
import { createScriptedClient } from '../../../src/store/lua-scripts.ts'

const LUA_DIR = new URL('../../../src/store/lua/', import.meta.url)
const files = readdirSync(LUA_DIR).filter((name) => name.endsWith('.lua'))

describe('the Lua scripts', () => {
  it('are there to check', () => assert.ok(files.length >= 5, files.join(', ')))

  for (const name of files) {
    it(`${name} opens with a header naming the KEYS and ARGV it reads`, () => {
      const text = readFileSync(new URL(name, LUA_DIR), 'utf8')
      const header = /^--\[\[\n([\s\S]*?)\n\]\]\n/.exec(text)
      assert.ok(header, 'no --[[ … ]] header at the top')
      const body = text.slice(header[0].length)
      for (const table of ['KEYS', 'ARGV']) {
        if (body.includes(`${table}[`)) assert.match(header[1]!, new RegExp(`${table}\\[`), `the body reads ${table} but the header does not name it`)
      }
    })
  }
})

describe('createScriptedClient', () => {
  const auth = { username: undefined, password: undefined, tls: undefined }

  it('defines each script as a command of its name (no connection made)', () => {
    const settings: RedisSettings = { ...auth, mode: 'standalone', url: 'redis://127.0.0.1:1' }
    const client = createScriptedClient<{ holdOrigin(...args: unknown[]): Promise<number>; reserveSends(...args: unknown[]): Promise<number[]> }>(settings, {
      holdOrigin: { file: 'hold-origin', numberOfKeys: 1 },
      reserveSends: { file: 'reserve-sends' },
    })
    try {
      assert.equal(typeof client.holdOrigin, 'function')
      assert.equal(typeof client.reserveSends, 'function')
      assert.equal(client.status, 'wait', 'lazy: nothing connects until asked')
    } finally {
      client.disconnect()
    }
  })

  it('keeps the scripts that take a variable number of keys out of a cluster’s auto-pipelines', () => {
    const settings: RedisSettings = { ...auth, mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }] }
    const client = createScriptedClient<{ holdOrigin: unknown; reserveSends: unknown }>(settings, {
      holdOrigin: { file: 'hold-origin', numberOfKeys: 1 },
      reserveSends: { file: 'reserve-sends' },
    })
    try {
      assert.ok(client instanceof Cluster)
      assert.deepEqual(client.options.autoPipeliningIgnoredCommands, ['reserveSends'])
    } finally {
      client.disconnect()
    }
  })
})
