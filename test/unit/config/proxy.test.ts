// CALLBACK_PROXY_URL: the HTTP CONNECT proxy callbacks go through.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig } from '../../../src/config.ts'
import { ConfigError } from '../../../src/errors.ts'

describe('CALLBACK_PROXY_URL', () => {
  it('unset (or blank): no proxy', () => {
    assert.equal(loadConfig({}).callbackProxy, undefined)
    assert.equal(loadConfig({ CALLBACK_PROXY_URL: '  ' }).callbackProxy, undefined)
  })

  it('http://host:port', () => {
    assert.deepEqual(loadConfig({ CALLBACK_PROXY_URL: 'http://egress.internal:3128' }).callbackProxy, {
      host: 'egress.internal',
      port: 3128,
      username: undefined,
      password: undefined,
    })
    assert.deepEqual(loadConfig({ CALLBACK_PROXY_URL: 'http://10.0.0.5:80/' }).callbackProxy?.port, 80)
    assert.deepEqual(loadConfig({ CALLBACK_PROXY_URL: 'http://[fd00::5]:8888' }).callbackProxy?.host, 'fd00::5')
  })

  it('credentials in the URL, percent-decoded', () => {
    const proxy = loadConfig({ CALLBACK_PROXY_URL: 'http://notifier:p%40ss%3Aword@proxy:3128' }).callbackProxy
    assert.equal(proxy?.username, 'notifier')
    assert.equal(proxy?.password, 'p@ss:word')
  })

  const malformed = [
    'proxy:3128',
    'http://proxy',
    'http://:3128',
    'socks5://proxy:1080',
    'https://proxy:3128',
    'http://proxy:3128/path',
    'http://proxy:3128?x=1',
    'http://proxy:99999',
  ]
  for (const value of malformed) {
    it(`${value}: one-line ConfigError naming CALLBACK_PROXY_URL`, () => {
      assert.throws(
        () => loadConfig({ CALLBACK_PROXY_URL: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError)
          assert.equal(error.variable, 'CALLBACK_PROXY_URL')
          assert.match(error.message, /^CALLBACK_PROXY_URL: must be http:\/\/\[user:password@\]host:port/)
          assert.ok(!/[\r\n]/.test(error.message))
          return true
        },
      )
    })
  }

  it('an https proxy is named as unsupported', () => {
    assert.throws(() => loadConfig({ CALLBACK_PROXY_URL: 'https://proxy:3128' }), /https:\/\/ proxies are not supported/)
  })
})
