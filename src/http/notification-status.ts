// GET /notifications/{processing_id} (contract §5): a notification's status and attempt
// history, read from the store, for every kind it has; 404 when there is none at all.
// The route and the token check are in http/server.ts.
import { AdminRequestError } from '../errors.ts'
import { NOTIFICATION_KINDS } from '../notifications/kinds.ts'
import type { NotificationStore } from '../store/notification-store.ts'

export class NotificationStatus {
  readonly #store: NotificationStore

  constructor(store: NotificationStore) {
    this.#store = store
  }

  async of(processingId: number): Promise<unknown> {
    const [main, ...others] = NOTIFICATION_KINDS
    const [mainStatus, ...otherStatuses] = await Promise.all([main, ...others].map((kind) => this.#store.status(kind, processingId)))
    if (!mainStatus && otherStatuses.every((status) => !status)) throw new AdminRequestError('not-found', 'no such notification')
    // The result's status at the top level (as before the other kinds existed); each other kind under its name.
    const view: Record<string, unknown> = { processing_id: processingId, ...(mainStatus ? { ...mainStatus.status, history: mainStatus.history } : { status: 'unknown' }) }
    others.forEach((kind, i) => {
      const status = otherStatuses[i]
      if (status) view[kind] = { ...status.status, history: status.history }
    })
    return view
  }
}
