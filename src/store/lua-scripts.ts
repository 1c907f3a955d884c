// The one loader of our Redis Lua scripts (lua/*.lua): as a store makes its client, reads
// each script and defines it as a command of that client. Each file opens with a header
// naming its KEYS and ARGV (as BullMQ's scripts do); test/unit/store/lua-scripts.test.ts
// holds every file to that.
import { readFileSync } from 'node:fs'
import type { RedisSettings } from '../config.ts'
import { createRedisClient, type RedisClient } from './redis-client.ts'

export interface LuaScript {
  /** The file in lua/, without `.lua`. */
  readonly file: string
  /** Keys the script always takes; without it the caller passes the number of keys first (a batch). */
  readonly numberOfKeys?: number
}

/** The text of lua/<file>.lua. */
function luaSource(file: string): string {
  return readFileSync(new URL(`lua/${file}.lua`, import.meta.url), 'utf8')
}

/**
 * A client for these settings with each script defined as the command of its name. Scripts
 * with a variable number of keys are named to createRedisClient, which keeps them out of a
 * cluster's auto-pipelines.
 */
export function createScriptedClient<Commands>(settings: RedisSettings, scripts: Record<keyof Commands & string, LuaScript>): RedisClient & Commands {
  const entries: Array<[string, LuaScript]> = Object.entries(scripts)
  const variableKeys = entries.filter(([, script]) => script.numberOfKeys === undefined).map(([name]) => name)
  const redis = createRedisClient(settings, variableKeys)
  for (const [name, { file, numberOfKeys }] of entries) {
    redis.defineCommand(name, { lua: luaSource(file), ...(numberOfKeys === undefined ? {} : { numberOfKeys }) })
  }
  return redis as RedisClient & Commands
}
