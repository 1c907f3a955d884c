// Standard Webhooks signing: HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}",
// sent as "v1,<base64>"; with several secrets (rotation) one signature per secret,
// separated by spaces, as the specification allows.
import { createHmac, type KeyObject } from 'node:crypto'

/** A secret's bytes, or (cheaper per signature) a KeyObject made once with createSecretKey. */
export type SigningKey = Buffer | KeyObject

export function sign(secrets: readonly SigningKey[], webhookId: string, timestampSeconds: number, body: string): string | undefined {
  if (secrets.length === 0) return undefined
  const content = `${webhookId}.${timestampSeconds}.${body}`
  return secrets.map((secret) => `v1,${createHmac('sha256', secret).update(content).digest('base64')}`).join(' ')
}

/** Request headers for one attempt. The timestamp is the attempt's own. */
export function notificationHeaders(
  notification: { webhookId: string; body: string; isError: boolean },
  secrets: readonly SigningKey[],
  nowMs: number,
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000)
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'notification-service/1',
    'webhook-id': notification.webhookId,
    'webhook-timestamp': String(timestamp),
  }
  const signature = sign(secrets, notification.webhookId, timestamp, notification.body)
  if (signature !== undefined) headers['webhook-signature'] = signature
  if (notification.isError) headers['x-error-notification'] = 'true'
  return headers
}
