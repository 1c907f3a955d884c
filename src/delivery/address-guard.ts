// Refuses callbacks to addresses a stranger must not reach through us (contract §5):
// loopback, private, link-local, CGNAT, multicast, reserved, documentation and cloud
// metadata ranges, in IPv4 and IPv6 form. IPv6 addresses that carry an IPv4 address
// (IPv4-mapped, IPv4-compatible, NAT64) are judged by that IPv4 address; see
// embeddedIPv4 below. The check runs on the addresses DNS returned, and the connection
// is made to exactly those addresses (the guarded lookup below is the socket's own
// lookup), so a second DNS answer cannot redirect it. CALLBACK_ALLOWED_NETWORKS exempts
// ranges (e.g. 127.0.0.0/8 for local work).
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
  // The rest of ::/8 is reserved by the IETF and holds no global unicast. IPv4-mapped
  // (::ffff:0:0/96), IPv4-compatible (::/96) and NAT64 (64:ff9b::/96, 64:ff9b:1::/48,
  // all inside ::/8) never reach this list: embeddedIPv4 judges them first. What it
  // closes is the remainder, e.g. SIIT's IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)
  // and 64:ff9b::/32 outside the two NAT64 prefixes.
  ['::', 8],
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
  // Two lists: BlockList checks an IPv4 address against IPv6 rules too (as ::ffff:a.b.c.d),
  // and ::/8 in one shared list would then block every IPv4 address.
  readonly #blockedIPv4 = new BlockList()
  readonly #blockedIPv6 = new BlockList()
  readonly #allowed = new BlockList()

  constructor(allowedNetworks: readonly string[]) {
    for (const [address, prefix] of BLOCKED_IPV4) this.#blockedIPv4.addSubnet(address, prefix, 'ipv4')
    for (const [address, prefix] of BLOCKED_IPV6) this.#blockedIPv6.addSubnet(address, prefix, 'ipv6')
    for (const cidr of allowedNetworks) {
      const [address = '', prefix = ''] = cidr.split('/')
      this.#allowed.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6')
    }
  }

  /** True when the service may connect to this IP address (any textual form). */
  isAllowed(address: string): boolean {
    const family = isIP(address)
    if (family === 0) return false
    if (family === 4) return this.#isAllowedIPv4(address)
    const zone = address.indexOf('%')
    // A zone id (fe80::1%eth0, RFC 4007) only qualifies a non-global scope: never a
    // public address, so it passes only when the allow-list names the bare address.
    if (zone !== -1) return this.#allowed.check(address.slice(0, zone), 'ipv6')
    if (this.#allowed.check(address, 'ipv6')) return true
    // The address is the IPv4 address it carries, for the blocked ranges and for the
    // allow-list alike: with 127.0.0.0/8 allowed, ::ffff:127.0.0.1 is allowed too (the
    // socket reaches 127.0.0.1 either way), and with it not allowed, it is refused.
    const embedded = embeddedIPv4(address)
    if (embedded !== undefined) return embedded.every((ipv4) => this.#isAllowedIPv4(ipv4))
    return !this.#blockedIPv6.check(address, 'ipv6')
  }

  #isAllowedIPv4(address: string): boolean {
    return this.#allowed.check(address, 'ipv4') || !this.#blockedIPv4.check(address, 'ipv4')
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

/**
 * The IPv4 address(es) an IPv6 address stands for, or undefined when it carries none.
 * The address must have passed isIP() === 6 and carry no zone id. More than one
 * address means "every one of them must be allowed" (local-use NAT64, below).
 *
 * - IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2): the last 32 bits.
 * - IPv4-compatible ::/96 (RFC 4291 §2.5.5.1, deprecated): the last 32 bits, except
 *   :: and ::1, which are the unspecified and loopback addresses and stay with the
 *   IPv6 rules (so a "::1/128" allow-list entry keeps working). ::0.0.0.2 is 0.0.0.2.
 * - Well-known NAT64 prefix 64:ff9b::/96 (RFC 6052 §2.1): the last 32 bits.
 * - Local-use NAT64 64:ff9b:1::/48 (RFC 8215): the operator may use any prefix length
 *   inside that /48 (48, 56, 64 or 96; /32 and /40 cannot fit), and RFC 6052 §2.2 puts
 *   the 32 bits in a different place for each, skipping bits 64–71. We cannot know the
 *   length, and whoever writes the callback URL can put a private address at the
 *   operator's position while the other positions read as public. So the address is
 *   decoded at all four positions and allowed only if every reading is allowed. This
 *   is stricter than reading one position, or the /48 and /96 positions only: with
 *   those, a /56 or /64 deployment could be steered to 10.0.0.1 (see the unit tests).
 *   The cost: where the operator's prefix bits decode to a
 *   non-public address at some position (64:ff9b:1::/96 with zero subnet bits reads
 *   0.0.0.0 at the /48 position), every address in it is refused. An operator who
 *   relies on such a prefix must put it in CALLBACK_ALLOWED_NETWORKS, and thereby
 *   trusts the translator to refuse private destinations itself.
 *
 * 6to4 (2002::/16) and Teredo (2001::/32) also embed IPv4 addresses; they stay blocked
 * as a whole by BLOCKED_IPV6 and are not decoded here.
 */
function embeddedIPv4(address: string): string[] | undefined {
  // Fast path: every form above starts with the group 0 or 64.
  const first = address.slice(0, address.indexOf(':'))
  const firstGroup = first === '' ? 0 : Number.parseInt(first, 16)
  if (firstGroup !== 0 && firstGroup !== 0x64) return undefined
  const b = ipv6Bytes(address)
  const zeroUpTo = (end: number, start = 0): boolean => {
    for (let i = start; i < end; i++) if (b[i] !== 0) return false
    return true
  }
  const ipv4 = (i: number, j: number, k: number, l: number): string => `${b[i]}.${b[j]}.${b[k]}.${b[l]}`
  if (zeroUpTo(10)) {
    if (b[10] === 0xff && b[11] === 0xff) return [ipv4(12, 13, 14, 15)] // IPv4-mapped
    if (b[10] !== 0 || b[11] !== 0) return undefined
    if (zeroUpTo(15, 12) && (b[15] === 0 || b[15] === 1)) return undefined // :: and ::1
    return [ipv4(12, 13, 14, 15)] // IPv4-compatible
  }
  if (b[0] !== 0 || b[1] !== 0x64 || b[2] !== 0xff || b[3] !== 0x9b) return undefined
  if (zeroUpTo(12, 4)) return [ipv4(12, 13, 14, 15)] // 64:ff9b::/96
  if (b[4] === 0 && b[5] === 1) {
    // 64:ff9b:1::/48 read as a /48, /56, /64 and /96 NAT64 prefix (RFC 6052 §2.2)
    return [ipv4(6, 7, 9, 10), ipv4(7, 9, 10, 11), ipv4(9, 10, 11, 12), ipv4(12, 13, 14, 15)]
  }
  return undefined
}

/** The 16 bytes of a valid IPv6 address without zone id, in any textual form. */
function ipv6Bytes(address: string): number[] {
  const gap = address.indexOf('::')
  const head = groups(gap === -1 ? address : address.slice(0, gap))
  const tail = gap === -1 ? [] : groups(address.slice(gap + 2))
  const all = [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail]
  return all.flatMap((group) => [group >> 8, group & 0xff])
}

function groups(text: string): number[] {
  if (text === '') return []
  return text.split(':').flatMap((piece) => {
    if (!piece.includes('.')) return [Number.parseInt(piece, 16)]
    const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number)
    return [(a << 8) | b, (c << 8) | d]
  })
}

function normaliseFamily(family: number | string | undefined): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4
  if (family === 6 || family === 'IPv6') return 6
  return 0
}
