// Pure: the headers a destination policy adds to its requests: its own headers and, for
// bearer and basic auth, Authorization. Made once per policy object (a reloaded file makes
// new ones). The notification's headers (Content-Type, webhook-*, trace context) are laid
// over them, so they always win; names are lower-cased first, so no case variant of one of
// ours can travel beside it.
import type { DestinationPolicy } from '../destinations/policy.ts'

const fixed = new WeakMap<DestinationPolicy, Readonly<Record<string, string>>>()

/** What the policy adds to every request to it, before an OAuth2 token. */
export function policyHeaders(policy: DestinationPolicy): Readonly<Record<string, string>> {
  let headers = fixed.get(policy)
  if (headers === undefined) {
    const made: Record<string, string> = {}
    for (const [name, value] of Object.entries(policy.headers)) made[name.toLowerCase()] = value
    const { auth } = policy
    if (auth?.kind === 'bearer') made.authorization = `Bearer ${auth.token}`
    else if (auth?.kind === 'basic') made.authorization = basicCredentials(auth.username, auth.password)
    headers = made
    fixed.set(policy, headers)
  }
  return headers
}

/**
 * The request's headers: the policy's, then `accessToken` as Authorization (OAuth2), then
 * ours (the notification's) on top.
 */
export function withPolicyHeaders(ours: Record<string, string>, policy: DestinationPolicy, accessToken?: string): Record<string, string> {
  const headers: Record<string, string> = { ...policyHeaders(policy) }
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`
  return Object.assign(headers, ours)
}

/** RFC 7617: Basic base64(user-id ":" password), UTF-8. */
export function basicCredentials(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
}
