// A throwaway private PKI for tests, made with the openssl command in a temp directory: a CA,
// a server certificate it signed (SAN localhost and 127.0.0.1) and a client certificate it
// signed (mutual TLS), plus a key that matches neither (for "key does not match" cases).
// EC P-256 keys: made in milliseconds. Call remove() when done (t.after / after).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface PemPair {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: Buffer
  readonly key: Buffer
}

export interface TestPki {
  /** The directory holding every file; gone after remove(). */
  readonly dir: string
  readonly ca: { readonly file: string; readonly pem: Buffer }
  /** For a TLS server on localhost / 127.0.0.1. */
  readonly server: PemPair
  /** For a client presenting a certificate (CN=notification-service). */
  readonly client: PemPair
  /** A private key (PEM) that belongs to no certificate here. */
  readonly strayKeyFile: string
  remove(): void
}

// One config file for every openssl call, so the extensions do not depend on the system's openssl.cnf.
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
`

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** Makes the CA and certificates (needs the openssl command). */
export function makeTestPki(prefix = 'test-pki-'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const at = (name: string) => join(dir, name)
  const config = at('openssl.cnf')
  writeFileSync(config, OPENSSL_CONFIG)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  try {
    openssl('req', '-config', config, '-x509', ...EC_KEY, '-days', '2', '-subj', '/CN=Test CA', '-extensions', 'ca', '-keyout', at('ca.key'), '-out', at('ca.pem'))
    const signed = (name: string, subject: string): PemPair => {
      openssl('req', '-config', config, '-new', ...EC_KEY, '-subj', subject, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`))
      openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-set_serial', String(Date.now() % 1e9 + name.length), '-days', '2', '-extfile', config, '-extensions', name, '-out', at(`${name}.crt`))
      return { certFile: at(`${name}.crt`), keyFile: at(`${name}.key`), cert: readFileSync(at(`${name}.crt`)), key: readFileSync(at(`${name}.key`)) }
    }
    const server = signed('server', '/CN=localhost')
    const client = signed('client', '/CN=notification-service')
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', at('stray.key'))
    return {
      dir,
      ca: { file: at('ca.pem'), pem: readFileSync(at('ca.pem')) },
      server,
      client,
      strayKeyFile: at('stray.key'),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}
