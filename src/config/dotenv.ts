// `.env` is read the same way by every process that reads the configuration (the service,
// the replay command, `node src/node-flags.ts`): from the working directory, when present,
// never overriding a variable the environment already has.
import { existsSync } from 'node:fs'

/** Loads `.env` into process.env without overriding variables already set; throws when it is malformed. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path)
}
