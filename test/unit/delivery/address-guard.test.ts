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

// IPv6 forms that carry an IPv4 address are judged by that IPv4 address.
const EMBEDDED_ALLOWED: ReadonlyArray<[string, string]> = [
  ['::ffff:8.8.8.8', 'IPv4-mapped, dotted tail'],
  ['::ffff:808:808', 'IPv4-mapped, hex tail'],
  ['::FFFF:5DB8:D822', 'IPv4-mapped 93.184.216.34, upper case'],
  ['0:0:0:0:0:ffff:8.8.8.8', 'IPv4-mapped, expanded'],
  ['0000:0000:0000:0000:0000:FFFF:0808:0808', 'IPv4-mapped, fully expanded'],
  ['::8.8.8.8', 'IPv4-compatible, dotted tail'],
  ['::5db8:d822', 'IPv4-compatible 93.184.216.34, hex tail'],
  ['64:ff9b::8.8.8.8', 'NAT64 well-known prefix, dotted tail'],
  ['64:ff9b::5db8:d822', 'NAT64 well-known prefix 93.184.216.34, hex tail'],
  ['64:FF9B:0:0:0:0:808:808', 'NAT64 well-known prefix, expanded, upper case'],
  ['0064:ff9b:0000:0000:0000:0000:0808:0808', 'NAT64 well-known prefix, fully expanded'],
  // /48 reading 93.184.216.34, /56 184.216.34.93, /64 216.34.93.8, /96 8.8.8.8: all public
  ['64:ff9b:1:5db8:d8:225d:808:808', 'NAT64 local-use prefix, public at every RFC 6052 position'],
]

const EMBEDDED_BLOCKED: ReadonlyArray<[string, string]> = [
  ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata, hex tail'],
  ['::FFFF:C0A8:0101', 'IPv4-mapped 192.168.1.1, upper case'],
  ['0:0:0:0:0:ffff:127.0.0.1', 'IPv4-mapped loopback, expanded'],
  ['::ffff:0.0.0.0', 'IPv4-mapped 0.0.0.0'],
  ['::127.0.0.1', 'IPv4-compatible loopback, dotted tail'],
  ['::7f00:1', 'IPv4-compatible loopback, hex tail'],
  ['::a00:1', 'IPv4-compatible 10.0.0.1'],
  ['::169.254.169.254', 'IPv4-compatible metadata'],
  ['::0.0.0.1', 'IPv4-compatible 0.0.0.1 (the text of ::1)'],
  ['::0.0.0.2', 'IPv4-compatible 0.0.0.2'],
  ['::', 'unspecified'],
  ['0:0:0:0:0:0:0:1', 'loopback, expanded'],
  ['64:ff9b::127.0.0.1', 'NAT64 well-known prefix, loopback'],
  ['64:ff9b::7f00:1', 'NAT64 well-known prefix, loopback, hex tail'],
  ['64:FF9B::A9FE:A9FE', 'NAT64 well-known prefix, metadata, upper case'],
  ['64:ff9b:0:0:0:0:a00:1', 'NAT64 well-known prefix, 10.0.0.1, expanded'],
  ['64:ff9b::192.168.1.1', 'NAT64 well-known prefix, private'],
  ['64:ff9b::100.64.0.1', 'NAT64 well-known prefix, CGNAT'],
  ['64:ff9b:1::8.8.8.8', 'NAT64 local-use /96 with zero subnet bits (reads 0.0.0.0 at the /48 position)'],
  ['64:ff9b:1::7f00:1', 'NAT64 local-use, loopback'],
  ['64:ff9b:1:5db8:d8:225d:a9fe:a9fe', 'NAT64 local-use, metadata at the /96 position'],
  // Each of these is non-public at one RFC 6052 position only, public at the other three.
  ['64:ff9b:1:ab8:d8:225d:808:808', 'NAT64 local-use, 10.184.216.34 at the /48 position only (bits 48–63, 72–87)'],
  ['64:ff9b:1:5d0a:b8:d822:808:808', 'NAT64 local-use, 10.184.216.34 at the /56 position only'],
  // /48 reads 93.184.10.0 and /96 1.8.8.8: a rule reading /48 and /96 only would allow it
  ['64:ff9b:1:5db8:a:0:108:808', 'NAT64 local-use, 10.0.0.1 at the /64 position only'],
  ['64:ff9b:0:0:1::', 'inside 64:ff9b::/32 but outside both NAT64 prefixes'],
  ['::ffff:0:808:808', 'SIIT IPv4-translated (::ffff:0:0:0/96), not decoded'],
  ['2002:808:808::1', '6to4 of a public address'],
  ['2002:7f00:1::1', '6to4 of loopback'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
  ['2001::808:808', 'Teredo'],
]

describe('AddressGuard.isAllowed on IPv6 forms that carry an IPv4 address', () => {
  const guard = new AddressGuard([])

  for (const [address, form] of EMBEDDED_ALLOWED) {
    it(`allows ${address} (${form})`, () => {
      assert.equal(guard.isAllowed(address), true)
    })
  }

  for (const [address, form] of EMBEDDED_BLOCKED) {
    it(`blocks ${address} (${form})`, () => {
      assert.equal(guard.isAllowed(address), false)
    })
  }

  it('refuses an address with a zone id unless the allow-list names the bare address', () => {
    assert.equal(guard.isAllowed('fe80::1%eth0'), false)
    assert.equal(guard.isAllowed('fe80::1%1'), false)
    assert.equal(guard.isAllowed('2606:4700::1111%eth0'), false, 'a zone id means a non-global scope')
    assert.equal(guard.isAllowed('::ffff:8.8.8.8%eth0'), false)
    assert.equal(new AddressGuard(['fe80::/10']).isAllowed('fe80::1%eth0'), true)
  })

  it('still allows public IPv4 and IPv6 next to the ::/8 block', () => {
    for (const address of ['8.8.8.8', '93.184.216.34', '1.1.1.1', '2001:4860:4860::8888', '2606:4700::1111']) {
      assert.equal(guard.isAllowed(address), true, address)
    }
  })
})

describe('AddressGuard allowed networks and embedded IPv4', () => {
  const loopback = new AddressGuard(['127.0.0.0/8'])

  it('judges the embedded IPv4 address against the IPv4 allow-list', () => {
    for (const address of ['::ffff:127.0.0.1', '::ffff:7f00:1', '::127.0.0.1', '64:ff9b::7f00:1', '64:ff9b::127.1.2.3']) {
      assert.equal(loopback.isAllowed(address), true, address)
    }
  })

  it('keeps refusing other embedded non-public addresses', () => {
    for (const address of ['::ffff:10.0.0.1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '::1', '::']) {
      assert.equal(loopback.isAllowed(address), false, address)
    }
  })

  it('needs every local-use NAT64 reading allowed', () => {
    // /96 reads 127.0.0.1 but /48 reads 0.0.0.0: not covered by 127.0.0.0/8 alone
    assert.equal(loopback.isAllowed('64:ff9b:1::7f00:1'), false)
  })

  it('lets an IPv6 allow-list entry cover a NAT64 prefix as a whole', () => {
    const nat64 = new AddressGuard(['64:ff9b:1::/96'])
    assert.equal(nat64.isAllowed('64:ff9b:1::8.8.8.8'), true)
    assert.equal(nat64.isAllowed('64:ff9b:1::1:8.8.8.8'), false, 'outside the allowed /96')
  })

  it('keeps ::1 judged as IPv6 loopback, not as 0.0.0.1', () => {
    assert.equal(new AddressGuard(['::1/128']).isAllowed('::1'), true)
    assert.equal(new AddressGuard(['::1/128']).isAllowed('::0.0.0.1'), true, 'the same address written otherwise')
    assert.equal(new AddressGuard(['::1/128']).isAllowed('::ffff:127.0.0.1'), false)
    assert.equal(new AddressGuard(['0.0.0.0/8']).isAllowed('::1'), false)
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

  for (const host of [
    '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]',
    '[::FFFF:169.254.169.254]',
    '[0:0:0:0:0:ffff:a9fe:a9fe]',
    '[::127.0.0.1]',
    '[::0.0.0.1]',
    '[64:ff9b::127.0.0.1]',
    '[64:FF9B::7F00:1]',
    '[64:ff9b:0:0:0:0:169.254.169.254]',
    '[64:ff9b:1::7f00:1]',
    '[2002:7f00:1::1]',
    '[2001:0:4136:e378:8000:63bf:3fff:fdd2]',
  ]) {
    it(`throws AddressBlockedError for the URL host ${host}`, () => {
      assert.throws(() => guard.assertLiteralHostAllowed(new URL(`http://${host}:8080/x`)), AddressBlockedError)
    })
  }

  it('does not throw for an IPv6 URL host carrying a public IPv4 address', () => {
    for (const host of ['[::ffff:8.8.8.8]', '[64:ff9b::93.184.216.34]', '[64:ff9b:1:5db8:d8:225d:808:808]']) {
      assert.doesNotThrow(() => guard.assertLiteralHostAllowed(new URL(`http://${host}/`)), host)
    }
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
