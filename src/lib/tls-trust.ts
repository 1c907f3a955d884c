// Node's error codes for a server certificate that TLS cannot trust: a setting (the CA file)
// must change, so these are never retried as an outage.
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

export function isUntrustedCertificate(code: unknown): code is string {
  return typeof code === 'string' && UNTRUSTED_CERTIFICATE.has(code)
}
