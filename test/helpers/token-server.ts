// A real OAuth2 token endpoint for integration tests (RFC 6749 §4.4, client credentials):
// checks the client's id and secret (HTTP Basic or form fields), issues a fresh opaque token
// per request (each one recorded, so a test can look for it where it must not be), and can
// be told to fail the next requests (503) to exercise a token endpoint that is down.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface TokenServer {
  /** http://127.0.0.1:<port>/token */
  readonly tokenUrl: string
  /** Every access token issued, oldest first. */
  readonly issued: string[]
  /** Token requests received (answered or failed). */
  readonly requests: Array<{ clientId: string | undefined; secretMatched: boolean; status: number; body: string }>
  /** The next `count` token requests answer 503. */
  failNext(count: number): void
  close(): Promise<void>
}

export async function startTokenServer(client: { id: string; secret: string; expiresInSeconds?: number; tokenPrefix?: string }): Promise<TokenServer> {
  const issued: string[] = []
  const requests: TokenServer['requests'] = []
  let failing = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const form = new URLSearchParams(body)
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      const [basicId, basicSecret] = basic === undefined ? [] : decodeBasic(basic)
      const clientId = basicId ?? form.get('client_id') ?? undefined
      const secretMatched = clientId === client.id && (basicSecret ?? form.get('client_secret')) === client.secret
      const answer = (status: number, json: unknown) => {
        requests.push({ clientId, secretMatched, status, body })
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(JSON.stringify(json))
      }
      if (req.method !== 'POST' || req.url !== '/token' || form.get('grant_type') !== 'client_credentials') return answer(400, { error: 'unsupported_grant_type' })
      if (failing > 0) {
        failing--
        return answer(503, { error: 'temporarily_unavailable' })
      }
      if (!secretMatched) return answer(401, { error: 'invalid_client' })
      const token = `${client.tokenPrefix ?? 'access-token'}-${randomBytes(12).toString('hex')}`
      issued.push(token)
      answer(200, { access_token: token, token_type: 'Bearer', expires_in: client.expiresInSeconds ?? 300 })
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    tokenUrl: `http://127.0.0.1:${port}/token`,
    issued,
    requests,
    failNext(count) {
      failing = count
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding. */
function decodeBasic(encoded: string): [string | undefined, string | undefined] {
  const text = Buffer.from(encoded, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon < 0) return [undefined, undefined]
  return [decodeURIComponent(text.slice(0, colon).replaceAll('+', ' ')), decodeURIComponent(text.slice(colon + 1).replaceAll('+', ' '))]
}
