// The undici Agents that callbacks and OAuth2 token requests go through, per destination
// policy (CALLBACK_DESTINATIONS_FILE):
// - callbacks: one shared Agent for every origin whose policy brings no TLS material and no
//   connection limit; an Agent of its own for each policy that does (its CA trusted instead
//   of the system's, its client certificate presented, its max_connections per origin).
//   undici keeps a pool per origin inside an Agent, so a connection made with one client's
//   certificate only ever carries requests to that origin; and each own Agent has its own
//   connector, so TLS sessions are never resumed across destinations either;
// - token requests: the system's roots plus the destination's CA (the identity provider is
//   usually public, the endpoint's PKI private); one shared Agent when it names no CA.
// Both go the way every callback goes: the address guard judges each address, through the
// CONNECT proxy when CALLBACK_PROXY_URL is set (TLS inside the tunnel with the same material).
// When the file is reloaded (lookup.current() is a new set), the Agents of policies no
// longer in force are closed: undici's close() lets their requests in flight finish first.
import { rootCertificates, type ConnectionOptions } from 'node:tls'
import { Agent, type Dispatcher } from 'undici'
import type { ProxySettings } from '../config.ts'
import type { DestinationLookup, DestinationPolicy, DestinationSet } from '../destinations/policy.ts'
import type { AddressGuard } from './address-guard.ts'
import { tunnelConnector } from './proxy-tunnel.ts'

export interface ConnectionSettings {
  /** CALLBACK_TIMEOUT_MS: connecting (through the proxy included) and each wait for the answer. */
  readonly timeoutMs: number
  /** CALLBACK_MAX_CONNECTIONS_PER_ORIGIN. */
  readonly connectionsPerOrigin: number
  readonly guard: AddressGuard
  /** CALLBACK_PROXY_URL. */
  readonly proxy: ProxySettings | undefined
}

type Purpose = 'callbacks' | 'tokens'

/** Connections a token endpoint gets (one request at a time per destination, in practice). */
const TOKEN_CONNECTIONS = 4
const KEEP_ALIVE_MS = 30_000

export class DestinationAgents {
  readonly #settings: ConnectionSettings
  readonly #lookup: DestinationLookup
  readonly #shared: Agent
  #sharedTokens: Agent | undefined
  readonly #own = new Map<DestinationPolicy, { callbacks?: Agent; tokens?: Agent }>()
  /** The set whose policies the own Agents belong to. */
  #set: DestinationSet | undefined

  constructor(settings: ConnectionSettings, lookup: DestinationLookup) {
    this.#settings = settings
    this.#lookup = lookup
    this.#set = lookup.current()
    this.#shared = agentWith(settings, settings.connectionsPerOrigin, settings.timeoutMs, {})
  }

  /** Where a callback to a destination with this policy (undefined: none) is dispatched. Cheap when nothing was reloaded and the policy has no Agent of its own. */
  callbacks(policy: DestinationPolicy | undefined): Dispatcher {
    if (this.#lookup.current() !== this.#set) this.#followReload()
    if (policy === undefined || !needsOwnAgent(policy)) return this.#shared
    return this.#own.get(policy)?.callbacks ?? this.#open(policy, 'callbacks')
  }

  /** Where the OAuth2 token requests of a destination go. */
  tokens(policy: DestinationPolicy): Dispatcher {
    if (this.#lookup.current() !== this.#set) this.#followReload()
    if (policy.tls?.ca === undefined) {
      this.#sharedTokens ??= agentWith(this.#settings, TOKEN_CONNECTIONS, this.#settings.timeoutMs, {})
      return this.#sharedTokens
    }
    return this.#own.get(policy)?.tokens ?? this.#open(policy, 'tokens')
  }

  /** Agents of policies open now (shared ones apart): none of a policy no longer in force stays. */
  get ownAgents(): number {
    let count = 0
    for (const own of this.#own.values()) count += (own.callbacks === undefined ? 0 : 1) + (own.tokens === undefined ? 0 : 1)
    return count
  }

  async close(): Promise<void> {
    const agents = [this.#shared, this.#sharedTokens, ...[...this.#own.values()].flatMap((own) => [own.callbacks, own.tokens])]
    this.#own.clear()
    await Promise.allSettled(agents.flatMap((agent) => (agent === undefined ? [] : [agent.close()])))
  }

  #open(policy: DestinationPolicy, purpose: Purpose): Agent {
    const agent = purpose === 'callbacks' ? callbackAgent(this.#settings, policy) : tokenAgent(this.#settings, policy)
    if (this.#set?.policies.includes(policy) !== true) {
      // A policy replaced while its attempt waited (for its token): a one-off Agent, closed
      // once the request dispatched on it now is done.
      setImmediate(closeQuietly, agent)
      return agent
    }
    const own = this.#own.get(policy) ?? {}
    own[purpose] = agent
    this.#own.set(policy, own)
    return agent
  }

  #followReload(): void {
    const set = this.#lookup.current()
    this.#set = set
    const inForce = new Set(set?.policies)
    for (const [policy, own] of this.#own) {
      if (inForce.has(policy)) continue
      this.#own.delete(policy)
      if (own.callbacks !== undefined) closeQuietly(own.callbacks)
      if (own.tokens !== undefined) closeQuietly(own.tokens)
    }
  }
}

/** A policy whose connections differ from the shared ones: TLS material or a connection limit of its own. */
function needsOwnAgent(policy: DestinationPolicy): boolean {
  const { tls } = policy
  return policy.maxConnections !== undefined || (tls !== undefined && (tls.ca !== undefined || tls.cert !== undefined))
}

function callbackAgent(settings: ConnectionSettings, policy: DestinationPolicy): Agent {
  const tls: ConnectionOptions = {}
  if (policy.tls?.ca !== undefined) tls.ca = policy.tls.ca
  if (policy.tls?.cert !== undefined && policy.tls.key !== undefined) {
    tls.cert = policy.tls.cert
    tls.key = policy.tls.key
  }
  return agentWith(settings, policy.maxConnections ?? settings.connectionsPerOrigin, policy.timeoutMs ?? settings.timeoutMs, tls)
}

function tokenAgent(settings: ConnectionSettings, policy: DestinationPolicy): Agent {
  const ca = policy.tls?.ca
  return agentWith(settings, TOKEN_CONNECTIONS, policy.timeoutMs ?? settings.timeoutMs, ca === undefined ? {} : { ca: [...rootCertificates, ca.toString('utf8')] })
}

function agentWith(settings: ConnectionSettings, connections: number, timeoutMs: number, tls: Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>): Agent {
  const { guard, proxy } = settings
  return new Agent({
    connections,
    keepAliveTimeout: KEEP_ALIVE_MS,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: proxy === undefined ? { ...tls, timeout: timeoutMs, lookup: guard.lookup } : tunnelConnector(proxy, guard, timeoutMs, tls),
  })
}

function closeQuietly(agent: Agent): void {
  agent.close().catch(() => undefined)
}
