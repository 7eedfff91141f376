// The cluster the DNS tests and the DNS benchmark resolve against: the
// acceptance scenario of issue 6 (namespace demo with hello, a StatefulSet db
// behind a headless Service and an ExternalName; namespace other; a namespace
// named like the TLD dev), and a fake "internet" zone for the upstream.
import type { ClusterSnapshot } from '../../src/dns/snapshot.ts';

/** HELLO_IP is hello.demo's ClusterIP. */
export const HELLO_IP = '10.96.0.20';
/** OTHER_HELLO_IP is hello.other's ClusterIP. */
export const OTHER_HELLO_IP = '10.96.0.21';

/** demoSnapshot is the cluster as the laptop and the cluster DNS stand-in see it. */
export function demoSnapshot(): ClusterSnapshot {
  return {
    clusterDomain: 'cluster.local',
    namespace: 'demo',
    namespaces: ['default', 'demo', 'other', 'dev', 'kube-system'],
    serviceCIDRs: ['10.96.0.0/12'],
    podCIDRs: ['10.244.0.0/16'],
    services: [
      {
        name: 'hello',
        namespace: 'demo',
        type: 'ClusterIP',
        clusterIPs: [HELLO_IP],
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
      {
        name: 'db',
        namespace: 'demo',
        type: 'ClusterIP',
        clusterIPs: [],
        ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
        endpoints: [
          { ip: '10.244.1.10', hostname: 'db-0' },
          { ip: '10.244.1.11', hostname: 'db-1' },
        ],
      },
      {
        name: 'ext',
        namespace: 'demo',
        type: 'ExternalName',
        clusterIPs: [],
        ports: [],
        externalName: 'hello.other.svc.cluster.local',
      },
      {
        name: 'many',
        namespace: 'demo',
        type: 'ClusterIP',
        clusterIPs: [],
        ports: [],
        endpoints: Array.from({ length: 60 }, (_, i) => ({ ip: `10.244.2.${i + 1}` })),
      },
      {
        name: 'hello',
        namespace: 'other',
        type: 'ClusterIP',
        clusterIPs: [OTHER_HELLO_IP],
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
      {
        name: 'api',
        namespace: 'dev',
        type: 'ClusterIP',
        clusterIPs: ['10.96.0.30'],
        ports: [{ port: 443, protocol: 'TCP' }],
      },
      {
        name: 'kube-dns',
        namespace: 'kube-system',
        type: 'ClusterIP',
        clusterIPs: ['10.96.0.10'],
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      },
    ],
  };
}

/** internetSnapshot is the fake upstream's zone: public names that must resolve exactly as before connect. */
export const INTERNET = {
  'example.dev': '203.0.113.7',
  'www.example.com': '203.0.113.8',
  'hello.demo.corp.example': '203.0.113.9',
} as const;
