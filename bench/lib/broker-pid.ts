// The broker JVM whose CPU the bench reads: the one scripts/kafka.sh started from this
// checkout (.kafka/kafka.pid, a kafka.Kafka process), else the kafka.Kafka process that
// listens on the bench's broker port. Not just any kafka.Kafka: other brokers run on this
// machine at times (a three-broker cluster for the fault tests).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

export function findBrokerPid(root: string, brokerPort: number): number | undefined {
  try {
    const pid = Number(readFileSync(join(root, '.kafka/kafka.pid'), 'utf8').trim())
    if (isKafka(pid)) return pid
  } catch {
    // no pid file in this checkout (a worktree uses the main checkout's broker)
  }
  const inodes = listeningInodes(brokerPort)
  if (inodes.size === 0) return undefined
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || !isKafka(Number(entry))) continue
    try {
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`))?.[1]
        if (inode !== undefined && inodes.has(inode)) return Number(entry)
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined
}

function isKafka(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('kafka.Kafka')
  } catch {
    return false
  }
}

/** Inodes of the sockets listening on `port` (any address, IPv4 or IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>()
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      // local_address is ADDR:PORT, st 0A is LISTEN, inode is the tenth field
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A' && fields[9] !== undefined) inodes.add(fields[9])
    }
  }
  return inodes
}
