// deploy/kubernetes: every overlay renders with `kubectl kustomize`, every object is valid
// against the Kubernetes API schema (kubernetes-models) and KEDA's CRDs
// (@kubernetes-models/keda), offline; and the properties an operator relies on hold.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { ROOT } from '../helpers/service.ts'

const KUBERNETES = join(ROOT, 'deploy/kubernetes')
const OVERLAYS = readdirSync(join(KUBERNETES, 'overlays'))
const KUBECTL = process.env.KUBECTL_PATH ?? 'kubectl'

interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string }
  spec?: Record<string, unknown>
  data?: Record<string, string>
  stringData?: Record<string, string>
}

function render(overlay: string): K8sObject[] {
  const text = execFileSync(KUBECTL, ['kustomize', join(KUBERNETES, 'overlays', overlay)], { encoding: 'utf8' })
  return parseAllDocuments(text).map((document) => document.toJS() as K8sObject)
}

/** The model class of an apiVersion and kind: `new Model(object).validate()` checks it against the schema. */
async function modelOf(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion]
  const module = group === 'keda.sh' ? `@kubernetes-models/keda/keda.sh/${version}/${kind}` : `kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${kind}`
  const loaded = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>
  const model = loaded[kind]
  assert.ok(model, `no schema for ${apiVersion} ${kind}`)
  return model
}

const find = (objects: K8sObject[], kind: string) => {
  const found = objects.find((object) => object.kind === kind)
  assert.ok(found, `a ${kind}`)
  return found
}

interface Container {
  name: string
  env?: Array<{ name: string; value?: string; valueFrom?: { resourceFieldRef?: { resource: string } } }>
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>
  resources: { limits: Record<string, string> }
  securityContext: { readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; allowPrivilegeEscalation?: boolean }
  startupProbe?: { httpGet: { path: string } }
  livenessProbe?: { httpGet: { path: string } }
  readinessProbe?: { httpGet: { path: string } }
  volumeMounts: Array<{ name: string; mountPath: string }>
}
interface PodSpec {
  containers: Container[]
  securityContext: { runAsNonRoot?: boolean }
  terminationGracePeriodSeconds: number
  topologySpreadConstraints?: unknown[]
  volumes: Array<{ name: string; emptyDir?: unknown }>
}
const podSpecOf = (deployment: K8sObject) => (deployment.spec as { template: { spec: PodSpec } }).template.spec

/** The environment variable names the service reads (.env.example lists them all). */
const SERVICE_ENV = new Set(
  [...readFileSync(join(ROOT, '.env.example'), 'utf8').matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]),
)

describe('deploy/kubernetes', () => {
  test('has the two overlays', () => {
    assert.deepEqual([...OVERLAYS].sort(), ['production', 'small'])
  })

  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const objects = render(overlay)

      test('every object is valid against its API schema (Kubernetes, KEDA)', async () => {
        assert.ok(objects.length >= 7)
        for (const object of objects) {
          const Model = await modelOf(object.apiVersion, object.kind)
          assert.doesNotThrow(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`)
        }
        // The validation is real: a wrong type or a missing required field is refused.
        const deployment = find(objects, 'Deployment')
        const DeploymentModel = await modelOf(deployment.apiVersion, deployment.kind)
        assert.throws(() => new DeploymentModel({ ...deployment, spec: { ...deployment.spec, replicas: 'three' } }).validate(), /replicas/)
        const scaled = objects.find((object) => object.kind === 'ScaledObject')
        if (scaled !== undefined) {
          const ScaledObjectModel = await modelOf(scaled.apiVersion, scaled.kind)
          assert.throws(() => new ScaledObjectModel({ ...scaled, spec: { ...scaled.spec, scaleTargetRef: {} } }).validate(), /scaleTargetRef/)
        }
      })

      test('one namespace, and no secret value in the repository', () => {
        assert.deepEqual(new Set(objects.map((object) => object.metadata.namespace)), new Set(['notifications']))
        for (const secret of objects.filter((object) => object.kind === 'Secret')) {
          assert.equal(Object.keys({ ...secret.data, ...secret.stringData }).length, 0, `Secret ${secret.metadata.name} holds data`)
        }
        const configMap = find(objects, 'ConfigMap')
        for (const name of Object.keys(configMap.data ?? {})) {
          assert.ok(!/PASSWORD|SECRET|TOKEN/.test(name), `${name} belongs in the Secret, not the ConfigMap`)
        }
      })

      test('the Deployment: probes, non-root, read-only root, memory limit = MEMORY_LIMIT_MB, drain time, spread', () => {
        const deployment = find(objects, 'Deployment')
        const pod = podSpecOf(deployment)
        const [container] = pod.containers
        assert.ok(container)
        assert.equal(container.readinessProbe?.httpGet.path, '/readyz')
        assert.equal(container.livenessProbe?.httpGet.path, '/healthz')
        assert.ok(container.startupProbe?.httpGet.path)
        assert.equal(pod.securityContext.runAsNonRoot, true)
        assert.equal(container.securityContext.runAsNonRoot, true)
        assert.equal(container.securityContext.readOnlyRootFilesystem, true)
        assert.equal(container.securityContext.allowPrivilegeEscalation, false)
        assert.match(container.resources.limits.memory ?? '', /^\d+Mi$/)
        const memoryEnv = container.env?.find((variable) => variable.name === 'MEMORY_LIMIT_MB')
        assert.equal(memoryEnv?.valueFrom?.resourceFieldRef?.resource, 'limits.memory')
        // The service's drain: 20 s for what is in flight (shutdownGraceMs) + 5 s for the last spans + closes.
        assert.ok(pod.terminationGracePeriodSeconds >= 30, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}`)
        assert.ok((pod.topologySpreadConstraints ?? []).length > 0)
        const configMap = find(objects, 'ConfigMap')
        const logDir = configMap.data?.LOG_DIR
        const logVolume = container.volumeMounts.find((mount) => mount.mountPath === logDir)
        assert.ok(logVolume, 'LOG_DIR is a mounted volume')
        assert.ok(pod.volumes.find((volume) => volume.name === logVolume.name)?.emptyDir, 'LOG_DIR is an emptyDir')
        // Environment from the ConfigMap and a Secret reference, only names the service reads.
        assert.ok(container.envFrom?.some((source) => source.configMapRef?.name === configMap.metadata.name))
        assert.ok(container.envFrom?.some((source) => source.secretRef !== undefined))
        for (const name of [...Object.keys(configMap.data ?? {}), ...(container.env ?? []).map((variable) => variable.name)]) {
          assert.ok(SERVICE_ENV.has(name), `${name} is not a setting of the service (.env.example)`)
        }
      })

      test('a Service, a ServiceAccount without a token, a PodDisruptionBudget', () => {
        assert.ok(find(objects, 'Service'))
        assert.equal((find(objects, 'ServiceAccount') as K8sObject & { automountServiceAccountToken?: boolean }).automountServiceAccountToken, false)
        const budget = find(objects, 'PodDisruptionBudget').spec as { maxUnavailable?: number; minAvailable?: number }
        assert.ok(budget.maxUnavailable !== undefined || budget.minAvailable !== undefined)
      })

      test('the NetworkPolicy keeps private ranges and the metadata address closed, DNS open', () => {
        const policy = find(objects, 'NetworkPolicy').spec as {
          policyTypes: string[]
          egress: Array<{ to?: Array<{ ipBlock?: { cidr: string; except?: string[] }; podSelector?: { matchLabels?: Record<string, string> } }>; ports?: Array<{ port: number | string }> }>
        }
        assert.ok(policy.policyTypes.includes('Egress'))
        const open = policy.egress.flatMap((rule) => (rule.to ?? []).flatMap((peer) => (peer.ipBlock ? [{ ...peer.ipBlock, ports: rule.ports }] : [])))
        const everywhere = open.filter((block) => block.cidr === '0.0.0.0/0')
        assert.equal(everywhere.length, 1, 'one rule for the IPv4 internet')
        for (const closed of ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16']) {
          assert.ok(everywhere[0]?.except?.includes(closed), `${closed} is excepted`)
        }
        assert.ok(open.find((block) => block.cidr === '::/0')?.except?.includes('fc00::/7'))
        // No other rule opens the metadata address or link-local.
        for (const block of open.filter((block) => block.cidr !== '0.0.0.0/0' && block.cidr !== '::/0')) {
          assert.ok(!block.cidr.startsWith('169.254.'), `${block.cidr} opens link-local`)
          assert.ok((block.ports ?? []).length > 0, `${block.cidr}: a private range is opened only for given ports`)
        }
        const dns = policy.egress.find((rule) => rule.to?.some((peer) => peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns'))
        assert.ok(dns?.ports?.some((port) => port.port === 53))
      })

      test('exactly one autoscaler: a KEDA ScaledObject on the input group, or an HPA on CPU', () => {
        const scaledObjects = objects.filter((object) => object.kind === 'ScaledObject')
        const autoscalers = objects.filter((object) => object.kind === 'HorizontalPodAutoscaler')
        assert.equal(scaledObjects.length + autoscalers.length, 1)
        const configMap = find(objects, 'ConfigMap').data ?? {}
        const partitions = Number(configMap.KAFKA_TOPIC_PARTITIONS)
        const deployment = find(objects, 'Deployment')
        const [scaled] = scaledObjects
        if (scaled !== undefined) {
          const spec = scaled.spec as { scaleTargetRef: { name: string }; maxReplicaCount: number; triggers: Array<{ type: string; metadata: Record<string, string> }> }
          assert.equal(spec.scaleTargetRef.name, deployment.metadata.name)
          assert.equal(spec.maxReplicaCount, partitions, 'at most one replica per input partition')
          assert.deepEqual(new Set(spec.triggers.map((trigger) => trigger.type)), new Set(['kafka']))
          assert.deepEqual(new Set(spec.triggers.map((trigger) => trigger.metadata.topic)), new Set([configMap.KAFKA_TOPIC_FOR_SENDING, configMap.KAFKA_TOPIC_FOR_AI_HANDLER]))
          for (const trigger of spec.triggers) {
            assert.equal(trigger.metadata.consumerGroup, configMap.KAFKA_GROUP_ID)
            assert.ok(Number(trigger.metadata.lagThreshold) > 0)
            assert.equal(trigger.metadata.bootstrapServers, configMap.KAFKA_BOOTSTRAP_SERVERS)
          }
        }
        const [hpa] = autoscalers
        if (hpa !== undefined) {
          const spec = hpa.spec as { scaleTargetRef: { name: string }; maxReplicas: number; metrics: Array<{ resource?: { name: string } }> }
          assert.equal(spec.scaleTargetRef.name, deployment.metadata.name)
          assert.equal(spec.maxReplicas, partitions)
          assert.equal(spec.metrics[0]?.resource?.name, 'cpu')
        }
      })
    })
  }

  test('production: three replicas, Kafka over SASL_SSL, Redis Sentinel, KEDA over SASL_SSL too', () => {
    const objects = render('production')
    const deployment = find(objects, 'Deployment')
    assert.equal((deployment.spec as { replicas: number }).replicas, 3)
    const config = find(objects, 'ConfigMap').data ?? {}
    assert.equal(config.KAFKA_SECURITY_PROTOCOL, 'SASL_SSL')
    assert.ok(config.KAFKA_SASL_MECHANISM)
    assert.ok(config.REDIS_SENTINELS !== undefined || config.REDIS_CLUSTER_NODES !== undefined)
    const scaled = find(objects, 'ScaledObject').spec as { minReplicaCount: number; triggers: Array<{ metadata: Record<string, string>; authenticationRef?: { name: string } }> }
    assert.equal(scaled.minReplicaCount, 3)
    const authentication = find(objects, 'TriggerAuthentication')
    for (const trigger of scaled.triggers) {
      assert.equal(trigger.metadata.sasl, 'scram_sha512')
      assert.equal(trigger.metadata.tls, 'enable')
      assert.equal(trigger.authenticationRef?.name, authentication.metadata.name)
    }
  })

  test('no Secret with data anywhere under deploy/', () => {
    const files = readdirSync(join(ROOT, 'deploy'), { recursive: true, encoding: 'utf8' }).filter((file) => /\.ya?ml$/.test(file))
    for (const file of files) {
      for (const document of parseAllDocuments(readFileSync(join(ROOT, 'deploy', file), 'utf8'))) {
        const object = document.toJS() as Partial<K8sObject> | null
        if (object?.kind === 'Secret') assert.equal(Object.keys({ ...object.data, ...object.stringData }).length, 0, `${file} holds a Secret with data`)
      }
    }
  })
})
