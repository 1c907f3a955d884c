import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { loadConfig } from '../../../src/config.ts'
import { cgroupLimitBytes, memoryLimit, parseMemoryLimitEnv, parseProcCgroup, parseV1Limit, parseV2Max, selfAndAncestors } from '../../../src/runtime/memory-limit.ts'

const MIB = 1024 * 1024
const dirs: string[] = []
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

/** A fake /sys/fs/cgroup: `files` maps paths under it to contents. */
function fixture(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cgroup-fixture-'))
  dirs.push(root)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

describe('parsing cgroup files', () => {
  it('finds the v2 path and the v1 memory path in /proc/self/cgroup', () => {
    assert.deepEqual(parseProcCgroup('0::/kubepods.slice/pod1/cri-abc.scope\n'), { v2: '/kubepods.slice/pod1/cri-abc.scope' })
    assert.deepEqual(parseProcCgroup('12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n'), { v1Memory: '/docker/abc', v2: '/' })
    assert.deepEqual(parseProcCgroup('7:cpu,memory:/a:b\n'), { v1Memory: '/a:b' })
    assert.deepEqual(parseProcCgroup(''), {})
  })

  it('reads "max" and huge v1 values as no limit', () => {
    assert.equal(parseV2Max('max\n'), undefined)
    assert.equal(parseV2Max('268435456\n'), 256 * MIB)
    assert.equal(parseV1Limit('9223372036854771712\n'), undefined)
    assert.equal(parseV1Limit('134217728\n'), 128 * MIB)
    assert.equal(parseV1Limit('garbage'), undefined)
  })

  it('lists a path and its ancestors, root last', () => {
    assert.deepEqual(selfAndAncestors('/a/b'), ['/a/b', '/a', '/'])
    assert.deepEqual(selfAndAncestors('/'), ['/'])
  })

  it('MEMORY_LIMIT_MB: an integer from 64', () => {
    assert.equal(parseMemoryLimitEnv('256'), 256)
    assert.equal(parseMemoryLimitEnv(' 128 '), 128)
    assert.equal(parseMemoryLimitEnv('32'), undefined)
    assert.equal(parseMemoryLimitEnv('1.5'), undefined)
    assert.equal(parseMemoryLimitEnv(undefined), undefined)
  })

  it('accepts exactly what the configuration accepts', () => {
    for (const text of ['63', '64', '1048576', '1048577', '-64', '64.0']) {
      const accepted = (() => {
        try {
          return loadConfig({ MEMORY_LIMIT_MB: text }).memoryLimitMb
        } catch {
          return undefined
        }
      })()
      assert.equal(parseMemoryLimitEnv(text), accepted, text)
    }
  })
})

describe('the tightest cgroup limit', () => {
  it('cgroup v2: the smallest memory.max of the group and its ancestors', () => {
    const root = fixture({ 'memory.max': 'max\n', 'kubepods/memory.max': '536870912\n', 'kubepods/pod1/memory.max': 'max\n', 'kubepods/pod1/app/memory.max': '268435456\n' })
    assert.equal(cgroupLimitBytes({ procSelfCgroup: '0::/kubepods/pod1/app\n', v2Mounts: [root], v1MemoryMount: join(root, 'none') }), 256 * MIB)
    const parentTighter = fixture({ 'a/memory.max': '134217728\n', 'a/b/memory.max': 'max\n' })
    assert.equal(cgroupLimitBytes({ procSelfCgroup: '0::/a/b\n', v2Mounts: [parentTighter], v1MemoryMount: join(root, 'none') }), 128 * MIB)
  })

  it('cgroup v2 with no limit anywhere, or a namespaced "/" view: the mount root counts', () => {
    const none = fixture({ 'memory.max': 'max\n' })
    assert.equal(cgroupLimitBytes({ procSelfCgroup: '0::/\n', v2Mounts: [none], v1MemoryMount: join(none, 'none') }), undefined)
    // Inside a container (cgroup namespace) the group is the mount's root.
    const container = fixture({ 'memory.max': '268435456\n' })
    assert.equal(cgroupLimitBytes({ procSelfCgroup: '0::/\n', v2Mounts: [container], v1MemoryMount: join(container, 'none') }), 256 * MIB)
  })

  it('cgroup v1: memory.limit_in_bytes of the memory hierarchy, a path missing under the mount skipped', () => {
    const root = fixture({ 'memory/memory.limit_in_bytes': '9223372036854771712\n', 'memory/ns-bench/memory.limit_in_bytes': '134217728\n' })
    const roots = { v2Mounts: [join(root, 'unified')], v1MemoryMount: join(root, 'memory') }
    assert.equal(cgroupLimitBytes({ ...roots, procSelfCgroup: '4:memory:/ns-bench\n0::/\n' }), 128 * MIB)
    // Docker on v1 without a cgroup namespace: /docker/<id> is not under the container's mount, whose root is its group.
    const docker = fixture({ 'memory/memory.limit_in_bytes': '268435456\n' })
    assert.equal(cgroupLimitBytes({ v2Mounts: [], v1MemoryMount: join(docker, 'memory'), procSelfCgroup: '4:memory:/docker/0123abcd\n' }), 256 * MIB)
    assert.equal(cgroupLimitBytes({ ...roots, procSelfCgroup: '4:memory:/\n' }), undefined)
  })

  it('MEMORY_LIMIT_MB wins over the cgroup; MiB rounded down', () => {
    const files: Record<string, string> = { '/proc/self/cgroup': '0::/app\n', '/sys/fs/cgroup/app/memory.max': String(200 * MIB + 5) }
    const read = (file: string) => files[file]
    assert.deepEqual(memoryLimit({}, read), { mb: 200, source: 'cgroup' })
    assert.deepEqual(memoryLimit({ MEMORY_LIMIT_MB: '512' }, read), { mb: 512, source: 'MEMORY_LIMIT_MB' })
    assert.equal(memoryLimit({}, () => undefined), undefined)
  })
})
