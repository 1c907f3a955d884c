import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isHttpUrl, parseHttpUrl } from '../../../src/lib/http-url.ts'

test('http and https URLs with a host are accepted, as parsed', () => {
  assert.equal(parseHttpUrl('https://Client.example:8443/hook?x=1')?.host, 'client.example:8443')
  assert.equal(parseHttpUrl('http://127.0.0.1/')?.hostname, '127.0.0.1')
  assert.equal(isHttpUrl(new URL('https://[::1]/')), true)
})

test('other schemes, relative URLs, and URLs without a host are refused', () => {
  for (const text of ['ftp://client.example/', 'file:///etc/passwd', '/hook', 'client.example/hook', 'http://', 'mailto:a@b.example', '']) {
    assert.equal(parseHttpUrl(text), undefined, text)
  }
})
