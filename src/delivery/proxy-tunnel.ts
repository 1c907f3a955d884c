// CALLBACK_PROXY_URL: every callback connection is a CONNECT tunnel through the egress
// proxy, made so that the address guard still decides where it goes (see tunnelConnector).
// A failure of the proxy itself is a ProxyError: ours, not the client's (answers.ts:
// proxyUnavailable).
import { request as httpRequest } from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionOptions } from 'node:tls'
import { buildConnector, errors as undiciErrors } from 'undici'
import type { ProxySettings } from '../config.ts'
import { describeError } from '../errors.ts'
import type { AddressGuard } from './address-guard.ts'

/** The proxy could not be reached or refused the tunnel: retried, and never the callback's own status. */
export class ProxyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ProxyError'
  }
}

/** What a destination sets of the TLS run inside the tunnel. */
export type TunnelTls = Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>

/**
 * The Agent's connector with CALLBACK_PROXY_URL. undici's ProxyAgent would send the
 * callback's host name in its CONNECT and let the proxy resolve it: the guard would never
 * see the address connected to, and a second DNS answer could point it at a private one.
 * So, per new connection: (1) the guard resolves and checks the host, as for a direct
 * connection (a refused address fails here, before the proxy hears of it); (2) the proxy
 * is asked to CONNECT to exactly that address and port; (3) for https, TLS runs inside the
 * tunnel with undici's own connector, its server name (SNI, certificate check) the
 * callback's host, its trust and client certificate the destination's (`tls`: a private CA,
 * mutual TLS; the proxy sees only the encrypted stream). The Host header is the origin's, as without a proxy. Everything from
 * the lookup to the end of the TLS handshake shares one deadline of timeoutMs (the
 * attempt's own deadline has already settled it by then; this one frees the socket).
 */
export function tunnelConnector(proxy: ProxySettings, guard: AddressGuard, timeoutMs: number, tls: TunnelTls = {}): buildConnector.connector {
  const proxyName = proxy.host.includes(':') ? `[${proxy.host}]:${proxy.port}` : `${proxy.host}:${proxy.port}`
  const authorization =
    proxy.username === undefined ? undefined : `Basic ${Buffer.from(`${proxy.username}:${proxy.password ?? ''}`).toString('base64')}`
  const secure = buildConnector({ ...tls, timeout: timeoutMs })
  return (options, callback) => {
    let done = false
    let socket: Socket | undefined
    const finish = (error: Error | null, connected?: Socket): void => {
      if (done) {
        if (connected !== socket) connected?.destroy()
        return
      }
      done = true
      clearTimeout(timer)
      if (error) {
        socket?.destroy()
        callback(error, null)
      } else {
        callback(null, connected!)
      }
    }
    const timer = setTimeout(() => finish(new undiciErrors.ConnectTimeoutError(`no tunnel through the proxy within ${timeoutMs} ms`)), timeoutMs)
    const { hostname, protocol } = options
    const port = Number(options.port) || (protocol === 'https:' ? 443 : 80)
    guard.lookup(hostname, {}, (lookupError, address, family) => {
      if (done) return
      if (lookupError) return finish(lookupError)
      // Called without `all`: one address, every one DNS gave having passed the guard.
      if (typeof address !== 'string') return finish(new Error(`no single address for ${hostname}`))
      const target = family === 6 ? `[${address}]:${port}` : `${address}:${port}`
      const connect = httpRequest({
        host: proxy.host,
        port: proxy.port,
        method: 'CONNECT',
        path: target,
        agent: false,
        headers: { host: target, ...(authorization === undefined ? {} : { 'proxy-authorization': authorization }) },
      })
      connect.on('socket', (opened) => {
        socket = opened
        if (done) opened.destroy()
      })
      connect.on('connect', (answer, tunnel, head) => {
        if (answer.statusCode !== 200) {
          tunnel.destroy()
          return finish(new ProxyError(`proxy ${proxyName} refused CONNECT ${target}: ${answer.statusCode} ${answer.statusMessage ?? ''}`.trimEnd()))
        }
        if (head.length > 0) tunnel.unshift(head)
        if (protocol !== 'https:') return finish(null, tunnel)
        secure({ ...options, httpSocket: tunnel }, (tlsError, secured) => (tlsError ? finish(tlsError) : finish(null, secured)))
      })
      connect.on('error', (error: NodeJS.ErrnoException) => {
        const detail = typeof error.code === 'string' ? `${error.code}: ${describeError(error)}` : describeError(error)
        finish(new ProxyError(`proxy ${proxyName} unreachable (${detail})`, { cause: error }))
      })
      connect.end()
    })
  }
}
