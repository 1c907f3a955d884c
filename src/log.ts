// Structured JSON logs (pino) to stdout and to LOG_DIR/notification_service.log,
// rotated daily (the rotated files keep the date in their names).
import { mkdirSync } from 'node:fs'
import { pino, type Logger } from 'pino'
import { createStream } from 'rotating-file-stream'
import type { LogLevel } from './config.ts'

export const LOG_FILE = 'notification_service.log'

export type { Logger }

export function createLogger(options: { level: LogLevel; dir: string | undefined; stdout?: boolean }): { logger: Logger; close: () => Promise<void> } {
  const streams: pino.StreamEntry[] = []
  if (options.stdout !== false) streams.push({ level: 'trace', stream: pino.destination({ dest: 1, sync: false }) })
  let file: ReturnType<typeof createStream> | undefined
  if (options.dir !== undefined) {
    mkdirSync(options.dir, { recursive: true })
    file = createStream(rotatedName, { path: options.dir, interval: '1d', maxFiles: 14 })
    streams.push({ level: 'trace', stream: file })
  }
  const logger = pino(
    { level: options.level, base: { service: 'notification_service' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  )
  return {
    logger,
    close: () =>
      new Promise<void>((resolve) => {
        logger.flush()
        if (!file) return resolve()
        file.end(() => resolve())
      }),
  }
}

/** Current file: notification_service.log; rotated: notification_service.log.2026-11-27 (the day it covers). */
function rotatedName(time: number | Date | null): string {
  if (time === null) return LOG_FILE
  const date = typeof time === 'number' ? new Date(time) : time
  const day = `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`
  return `${LOG_FILE}.${day}`
}
