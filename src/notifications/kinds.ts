// The kinds of notification, in one table: everything that differs between them is read
// from here (webhook-id, Redis key names, whether an outcome record is published, where
// the status endpoint shows it). A new kind is a new row; nothing falls into another
// kind's branch by default.

export const NotificationKinds = { RESULT: 'result', ACCEPTED: 'accepted' } as const
export type NotificationKind = (typeof NotificationKinds)[keyof typeof NotificationKinds]

export interface KindTraits {
  /** Standard Webhooks `webhook-id` (contract §1, §2): stable across retries and replicas. */
  readonly webhookId: (processingId: number) => string
  /** Appended to every Redis key of the notification, so each kind is deduplicated apart. */
  readonly keySuffix: string
  /** Whether final outcomes go to the outcomes topic (contract §3: results only). */
  readonly publishesOutcome: boolean
}

export const KIND_TRAITS: Readonly<Record<NotificationKind, KindTraits>> = {
  [NotificationKinds.RESULT]: { webhookId: (id) => `processing_${id}`, keySuffix: '', publishesOutcome: true },
  [NotificationKinds.ACCEPTED]: { webhookId: (id) => `processing_${id}_accepted`, keySuffix: ':accepted', publishesOutcome: false },
}

/** Every kind, the result first (GET /notifications/{id} shows it at the top level, the others beside it). */
export const NOTIFICATION_KINDS = Object.keys(KIND_TRAITS) as [NotificationKind, ...NotificationKind[]]

export function isNotificationKind(value: unknown): value is NotificationKind {
  return typeof value === 'string' && Object.hasOwn(KIND_TRAITS, value)
}
