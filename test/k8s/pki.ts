// The test cluster's PKI, made with the openssl CLI at first start and
// reused afterwards: one CA; serving certificates for the API server and the
// kubelet; client certificates for the API server (to the kubelet), admin
// (system:masters), the node (Node authorizer), kube-proxy, the
// controller-manager, the scheduler and the restricted `dev` user; and the
// service-account signing key pair. ECDSA P-256 throughout, as in
// kubernetes-the-hard-way's docs/04-certificate-authority.md (which uses RSA).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_DOMAIN, DEV_USER, KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME } from './layout.ts';

/** Identity is a client certificate's subject: CN is the user, O the groups. */
interface Identity {
  file: string;
  cn: string;
  o?: string;
  /** sans makes it a serving certificate too. */
  sans?: string[];
}

/** IDENTITIES are the certificates the cluster needs. */
export const IDENTITIES: Identity[] = [
  {
    file: 'apiserver',
    cn: 'kube-apiserver',
    sans: [
      'IP:127.0.0.1',
      `IP:${NODE_IP}`,
      `IP:${KUBERNETES_SERVICE_IP}`,
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      `DNS:kubernetes.default.svc.${CLUSTER_DOMAIN}`,
    ],
  },
  { file: 'apiserver-kubelet-client', cn: 'kube-apiserver-kubelet-client', o: 'kubeadm:cluster-admins' },
  { file: 'kubelet', cn: `system:node:${NODE_NAME}`, o: 'system:nodes', sans: [`IP:${NODE_IP}`, `DNS:${NODE_NAME}`] },
  { file: 'admin', cn: 'kubernetes-admin', o: 'system:masters' },
  { file: 'kube-proxy', cn: 'system:kube-proxy' },
  { file: 'controller-manager', cn: 'system:kube-controller-manager' },
  { file: 'scheduler', cn: 'system:kube-scheduler' },
  { file: 'dev', cn: DEV_USER },
];

function openssl(args: string[], cwd: string, input?: string): string {
  return execFileSync('openssl', args, { cwd, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** ensurePki makes whatever part of the PKI is missing in dir. */
export function ensurePki(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(dir, 'ca.crt'))) {
    openssl(
      ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=devnet-k8s-ca'],
      dir,
    );
  }
  for (const id of IDENTITIES) {
    if (existsSync(join(dir, `${id.file}.crt`))) continue;
    const subj = `/CN=${id.cn}${id.o ? `/O=${id.o}` : ''}`;
    openssl(['req', ...EC, '-keyout', `${id.file}.key`, '-out', `${id.file}.csr`, '-subj', subj], dir);
    const ext = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=clientAuth${id.sans ? ',serverAuth' : ''}`,
      ...(id.sans ? [`subjectAltName=${id.sans.join(',')}`] : []),
    ].join('\n');
    writeFileSync(join(dir, `${id.file}.ext`), `${ext}\n`);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${id.file}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '3650',
        '-extfile',
        `${id.file}.ext`,
        '-out',
        `${id.file}.crt`,
      ],
      dir,
    );
  }
  if (!existsSync(join(dir, 'sa.pub'))) {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key'], dir);
    openssl(['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  }
}

/** pem reads one PEM file of the PKI. */
export function pem(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}
