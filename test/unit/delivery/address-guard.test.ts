import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { LookupAddress } from 'node:dns'
import { AddressBlockedError, AddressGuard } from '../../../src/delivery/address-guard.ts'

type LookupResult = { error: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family: number | undefined }

function lookup(guard: AddressGuard, hostname: string, all: boolean): Promise<LookupResult> {
  return new Promise((resolve) => {
    guard.lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family }))
  })
}

const PUBLIC = ['8.8.8.8', '2606:4700::1111']
const BLOCKED = [
  '127.0.0.1',
  '10.1.2.3',
  '172.16.0.1',
  '192.168.1.1',
  '169.254.169.254',
  '100.64.0.1',
  '0.0.0.0',
  '224.0.0.1',
  '::1',
  'fe80::1',
  'fc00::1',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:10.0.0.1',
]

describe('AddressGuard.isAllowed', () => {
  const guard = new AddressGuard([])

  for (const address of PUBLIC) {
    it(`allows public ${address}`, () => {
      assert.equal(guard.isAllowed(address), true)
    })
  }

  for (const address of BLOCKED) {
    it(`blocks ${address}`, () => {
      assert.equal(guard.isAllowed(address), false)
    })
  }

  it('rejects text that is not an IP address', () => {
    assert.equal(guard.isAllowed('example.com'), false)
    assert.equal(guard.isAllowed(''), false)
  })
})

describe('AddressGuard allowed networks', () => {
  const guard = new AddressGuard(['127.0.0.0/8'])

  it('exempts addresses in an allowed network', () => {
    assert.equal(guard.isAllowed('127.0.0.1'), true)
    assert.equal(guard.isAllowed('127.255.0.9'), true)
  })

  it('keeps blocking addresses outside it', () => {
    assert.equal(guard.isAllowed('10.0.0.1'), false)
    assert.equal(guard.isAllowed('::1'), false)
  })

  it('exempts IPv6 networks', () => {
    assert.equal(new AddressGuard(['::1/128']).isAllowed('::1'), true)
    assert.equal(new AddressGuard(['::1/128']).isAllowed('127.0.0.1'), false)
  })
})

describe('AddressGuard.assertLiteralHostAllowed', () => {
  const guard = new AddressGuard([])

  it('throws AddressBlockedError for a blocked IPv6 literal', () => {
    assert.throws(() => guard.assertLiteralHostAllowed(new URL('http://[::1]/')), AddressBlockedError)
  })

  it('throws AddressBlockedError for a blocked IPv4 literal', () => {
    assert.throws(
      () => guard.assertLiteralHostAllowed(new URL('http://127.0.0.1/')),
      (error: unknown) => error instanceof AddressBlockedError && error.code === 'CALLBACK_ADDRESS_BLOCKED' && !error.canRetry,
    )
  })

  it('does not throw for a hostname or a public literal', () => {
    assert.doesNotThrow(() => guard.assertLiteralHostAllowed(new URL('https://localhost/hook')))
    assert.doesNotThrow(() => guard.assertLiteralHostAllowed(new URL('https://client.example/hook')))
    assert.doesNotThrow(() => guard.assertLiteralHostAllowed(new URL('http://8.8.8.8/')))
  })

  it('does not throw for an allowed literal', () => {
    assert.doesNotThrow(() => new AddressGuard(['127.0.0.0/8']).assertLiteralHostAllowed(new URL('http://127.0.0.1/')))
  })
})

describe('AddressGuard.lookup', () => {
  for (const all of [true, false]) {
    it(`refuses localhost without an allow-list (all: ${all})`, async () => {
      const result = await lookup(new AddressGuard([]), 'localhost', all)
      assert.ok(result.error instanceof AddressBlockedError, String(result.error))
    })

    it(`resolves localhost when loopback is allowed (all: ${all})`, async () => {
      const result = await lookup(new AddressGuard(['127.0.0.0/8', '::1/128']), 'localhost', all)
      assert.equal(result.error, null)
      if (all) {
        assert.ok(Array.isArray(result.address))
        assert.ok(result.address.length > 0)
        for (const entry of result.address) {
          assert.ok(['127.0.0.1', '::1'].includes(entry.address), entry.address)
          assert.ok(entry.family === 4 || entry.family === 6)
        }
      } else {
        assert.equal(typeof result.address, 'string')
        assert.ok(result.address === '127.0.0.1' || result.address === '::1', JSON.stringify(result.address))
        assert.equal(result.family, result.address === '::1' ? 6 : 4)
      }
    })
  }

  it('passes a DNS failure through', async () => {
    const result = await lookup(new AddressGuard([]), 'no-such-host.invalid', false)
    assert.ok(result.error !== null)
    assert.ok(!(result.error instanceof AddressBlockedError))
  })
})
