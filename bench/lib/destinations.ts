// `--destination plain-tls|oauth2-mtls`: the receiver's origins served over HTTPS with
// certificates of a throwaway CA (made with the openssl command), and the service told about
// them through CALLBACK_DESTINATIONS_FILE, one destination per origin, as an operator would
// write one per client:
//   plain-tls    each destination trusts the CA (tls.ca_file); nothing else.
//   oauth2-mtls  each destination also presents a client certificate (the receiver demands
//                one from the same CA) and gets a bearer token from the receiver's token
//                endpoint (OAuth2 client credentials, expires_in --token-expires-in).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const DESTINATION_MODES = ['none', 'plain-tls', 'oauth2-mtls'] as const
export type DestinationMode = (typeof DESTINATION_MODES)[number]

export const BENCH_CLIENT_ID = 'notification-service-bench'
export const BENCH_CLIENT_SECRET = 'bench-client-secret'

export interface BenchPki {
  readonly dir: string
  readonly caFile: string
  /** Valid for 127.0.0.1 … 127.0.0.{1+origins}. */
  readonly serverCertFile: string
  readonly serverKeyFile: string
  readonly clientCertFile: string
  readonly clientKeyFile: string
  remove(): void
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A CA, a server certificate for the loopback origins and a client certificate (EC P-256: the handshake the service pays for is the usual one today). */
export function makeBenchPki(origins: number): BenchPki {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pki-'))
  const at = (name: string) => join(dir, name)
  const addresses = Array.from({ length: origins + 1 }, (_, index) => `IP:127.0.0.${index + 1}`).join(', ')
  writeFileSync(
    at('openssl.cnf'),
    `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n` +
      `[ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n` +
      `[server]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = ${addresses}\n` +
      `[client]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n`,
  )
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  openssl('req', '-config', at('openssl.cnf'), '-x509', ...EC_KEY, '-days', '2', '-subj', '/CN=Bench CA', '-extensions', 'ca', '-keyout', at('ca.key'), '-out', at('ca.pem'))
  for (const name of ['server', 'client']) {
    openssl('req', '-config', at('openssl.cnf'), '-new', ...EC_KEY, '-subj', `/CN=bench-${name}`, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`))
    openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', at('openssl.cnf'), '-extensions', name, '-out', at(`${name}.crt`))
  }
  return {
    dir,
    caFile: at('ca.pem'),
    serverCertFile: at('server.crt'),
    serverKeyFile: at('server.key'),
    clientCertFile: at('client.crt'),
    clientKeyFile: at('client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** The receiver's environment: serve HTTPS, and for oauth2-mtls demand a client certificate and a token it issued. */
export function receiverTlsEnv(mode: DestinationMode, pki: BenchPki | undefined, tokenExpiresInS: number): Record<string, string> {
  if (mode === 'none' || pki === undefined) return {}
  return {
    BENCH_TLS_CERT_FILE: pki.serverCertFile,
    BENCH_TLS_KEY_FILE: pki.serverKeyFile,
    ...(mode === 'oauth2-mtls'
      ? { BENCH_TLS_CLIENT_CA_FILE: pki.caFile, BENCH_TOKEN_CLIENT: `${BENCH_CLIENT_ID}:${BENCH_CLIENT_SECRET}`, BENCH_TOKEN_EXPIRES_IN: String(tokenExpiresInS) }
      : {}),
  }
}

/** CALLBACK_DESTINATIONS_FILE for the receiver's origins (https://127.0.0.x:port), one destination each; returns its path. */
export function writeDestinationsFile(mode: Exclude<DestinationMode, 'none'>, pki: BenchPki, origins: readonly string[], tokenUrl: string): string {
  const entries = origins.map((origin) => {
    const tls = mode === 'plain-tls' ? `    tls:\n      ca_file: ${pki.caFile}\n` : `    tls:\n      ca_file: ${pki.caFile}\n      cert_file: ${pki.clientCertFile}\n      key_file: ${pki.clientKeyFile}\n`
    const auth =
      mode === 'plain-tls'
        ? ''
        : `    auth:\n      oauth2_client_credentials:\n        token_url: ${tokenUrl}\n        client_id: ${BENCH_CLIENT_ID}\n        client_secret: ${BENCH_CLIENT_SECRET}\n        client_auth: client_secret_basic\n`
    return `  - origin: ${origin}\n${tls}${auth}`
  })
  const file = join(pki.dir, `destinations-${mode}.yaml`)
  writeFileSync(file, `destinations:\n${entries.join('')}`)
  return file
}
