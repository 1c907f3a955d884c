// The TLS files of a destination, read at load and checked the way a handshake would use them:
// the CA file and the client certificate hold PEM certificates that parse, the key is an
// unencrypted PEM private key, and it belongs to the certificate. A failure here is a refused
// file, not a failed attempt hours later. Problems name the field and the file, never content.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { DestinationTls } from './policy.ts'

export class TlsProblem extends Error {
  readonly field: 'ca_file' | 'cert_file' | 'key_file'

  constructor(field: TlsProblem['field'], problem: string) {
    super(problem)
    this.field = field
  }
}

export interface TlsFiles {
  readonly ca_file?: string | undefined
  readonly cert_file?: string | undefined
  readonly key_file?: string | undefined
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g

/**
 * Reads and checks the files; relative paths are taken from the directory of the
 * destinations file. Throws a TlsProblem.
 */
export function loadTlsMaterial(files: TlsFiles, destinationsFile: string): DestinationTls {
  const at = (path: string | undefined) => (path === undefined ? undefined : resolve(dirname(destinationsFile), path))
  const caFile = at(files.ca_file)
  const certFile = at(files.cert_file)
  const keyFile = at(files.key_file)
  const ca = caFile === undefined ? undefined : read('ca_file', caFile)
  if (ca !== undefined) certificatesIn('ca_file', caFile!, ca)
  const cert = certFile === undefined ? undefined : read('cert_file', certFile)
  const key = keyFile === undefined ? undefined : read('key_file', keyFile)
  if (cert !== undefined && key !== undefined) checkKeyPair(cert, certFile!, key, keyFile!)
  return { caFile, ca, certFile, cert, keyFile, key }
}

function read(field: TlsProblem['field'], file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (error) {
    throw new TlsProblem(field, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`)
  }
}

function certificatesIn(field: TlsProblem['field'], file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(CERTIFICATE_BLOCK) ?? []
  if (blocks.length === 0) throw new TlsProblem(field, `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`)
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block)
    } catch {
      throw new TlsProblem(field, `${file}: certificate ${index + 1} does not parse`)
    }
  })
}

/** The first certificate of the chain is ours: the key must be its private key. */
function checkKeyPair(cert: Buffer, certFile: string, key: Buffer, keyFile: string): void {
  const [leaf] = certificatesIn('cert_file', certFile, cert)
  let privateKey
  try {
    privateKey = createPrivateKey({ key, format: 'pem' })
  } catch {
    throw new TlsProblem('key_file', `${keyFile} is not an unencrypted PEM private key`)
  }
  if (!leaf!.checkPrivateKey(privateKey)) throw new TlsProblem('key_file', `${keyFile} is not the private key of the certificate in ${certFile}`)
}
