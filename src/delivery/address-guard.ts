// Refuses callbacks to addresses a stranger must not reach through us (contract §5):
// loopback, private, link-local, CGNAT, multicast, reserved, documentation and cloud
// metadata ranges, in IPv4, IPv6 and IPv4-mapped IPv6 form. The check runs on the
// addresses DNS returned, and the connection is made to exactly those addresses (the
// guarded lookup below is the socket's own lookup), so a second DNS answer cannot
// redirect it. CALLBACK_ALLOWED_NETWORKS exempts ranges (e.g. 127.0.0.0/8 for local work).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP } from 'node:net'
import { ErrorCodes, NotificationError } from '../errors.ts'

const BLOCKED_IPV4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
]

const BLOCKED_IPV6: ReadonlyArray<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 (embeds IPv4)
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
  ['fd00:ec2::254', 128], // AWS metadata over IPv6
]

export class AddressBlockedError extends NotificationError {
  constructor(host: string, address: string) {
    super(ErrorCodes.CALLBACK_ADDRESS_BLOCKED, `callback host ${host} resolves to ${address}, a non-public address`, false)
    this.name = 'AddressBlockedError'
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

export class AddressGuard {
  readonly #blocked = new BlockList()
  readonly #allowed = new BlockList()

  constructor(allowedNetworks: readonly string[]) {
    for (const [address, prefix] of BLOCKED_IPV4) this.#blocked.addSubnet(address, prefix, 'ipv4')
    for (const [address, prefix] of BLOCKED_IPV6) this.#blocked.addSubnet(address, prefix, 'ipv6')
    for (const cidr of allowedNetworks) {
      const [address = '', prefix = ''] = cidr.split('/')
      this.#allowed.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6')
    }
  }

  /** True when the service may connect to this IP address. */
  isAllowed(address: string): boolean {
    const family = isIP(address)
    if (family === 0) return false
    // BlockList matches IPv4-mapped IPv6 (::ffff:a.b.c.d) against the IPv4 rules itself.
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (this.#allowed.check(address, type)) return true
    return !this.#blocked.check(address, type)
  }

  /** Throws when the URL's host is an IP literal that may not be reached (names are checked at connect). */
  assertLiteralHostAllowed(url: URL): void {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    if (isIP(host) !== 0 && !this.isAllowed(host)) throw new AddressBlockedError(url.hostname, host)
  }

  /** A drop-in for `dns.lookup`, handed to the socket: resolves, checks every address, pins them. */
  readonly lookup = (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, family: normaliseFamily(options.family) }, (error, addresses) => {
      if (error) return callback(error, [])
      const blocked = addresses.find((entry) => !this.isAllowed(entry.address))
      if (blocked) return callback(new AddressBlockedError(hostname, blocked.address), [])
      if (options.all) return callback(null, addresses)
      const first = addresses[0]
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), [])
      callback(null, first.address, first.family)
    })
  }
}

function normaliseFamily(family: number | string | undefined): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4
  if (family === 6 || family === 'IPv6') return 6
  return 0
}
