// Entry point: configuration (one line and exit 78 when a setting is wrong), logs, tracing
// (the OpenTelemetry SDK when OTEL_* configures an exporter), the service, and a graceful
// stop on SIGTERM/SIGINT (exit 0; queued spans are exported before).
import { createApp } from './app.ts'
import { EXIT_CONFIG, loadConfigOrExit } from './config.ts'
import { ACCESS_REFUSED_CODES, NotificationError, describeError } from './errors.ts'
import { createLogger } from './log.ts'
import { startTelemetry } from './telemetry/telemetry.ts'
import { sizeToMemory } from './runtime/service-sizing.ts'

// The memory this replica may use sizes what it holds at once; the heap flags of the same
// budget are on the command line (src/node-flags.ts).
const { config, limit, budget } = sizeToMemory(loadConfigOrExit())
const { logger, close: closeLogs } = createLogger({ level: config.logLevel, dir: config.logDir })
logger.info(
  { memoryLimitMb: limit?.mb ?? null, source: limit?.source ?? 'none', heap: budget.heap ?? null, tuning: budget.tuning, execArgv: process.execArgv },
  limit ? 'sized to the memory limit' : 'no memory limit: default sizing',
)
const app = createApp(config, logger, { telemetry: await startTelemetry(config.tracing, logger) })
if (limit) app.metrics.memoryLimit.set(limit.mb * 1024 * 1024)

let stopping = false
async function stop(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info({ signal }, 'stopping')
  try {
    await app.close()
    logger.info('stopped')
    await closeLogs()
    process.exit(0)
  } catch (error) {
    logger.error({ error: describeError(error) }, 'unclean stop')
    await closeLogs()
    process.exit(1)
  }
}
process.on('SIGTERM', () => void stop('SIGTERM'))
process.on('SIGINT', () => void stop('SIGINT'))
// SIGHUP re-reads CALLBACK_DESTINATIONS_FILE (the registry logs what became of it); without one it is only logged, no longer a stop.
process.on('SIGHUP', () => {
  logger.info({ signal: 'SIGHUP' }, 'reload of the destinations file asked')
  if (app.reloadDestinations() === undefined) logger.info('no CALLBACK_DESTINATIONS_FILE: nothing to reload')
})

try {
  logger.info({ mode: config.mode, brokers: config.kafka.brokers, groupId: config.kafka.groupId }, 'starting')
  await app.start()
} catch (error) {
  if (!stopping) {
    logger.fatal({ error: describeError(error) }, 'could not start')
    await closeLogs()
    // Kafka or Redis refused our credentials, certificate or ACLs: a setting must change, as with a malformed one.
    const refused = error instanceof NotificationError && ACCESS_REFUSED_CODES.has(error.code)
    if (refused) process.stderr.write(`Cannot start: ${error.message}\n`)
    process.exit(refused ? EXIT_CONFIG : 1)
  }
}
