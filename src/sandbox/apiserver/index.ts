// The sandbox API server's public surface, for the sandbox supervisor and CLI.
export type { Tokens, UserInfo } from './auth.ts';
export { ADMIN_USER, DEV_USER } from './auth.ts';
export { DEV_CLUSTER_RULES, DEV_NAMESPACE, DEV_ROLE_RULES } from './bootstrap.ts';
export {
  ADMIN_CONTEXT,
  CLUSTER_NAME,
  DEV_CONTEXT,
  type KubeconfigOptions,
  kubeconfigYaml,
  writeKubeconfig,
} from './kubeconfig.ts';
export { shimSocketPath } from './portforward.ts';
export { type ApiServer, type ApiServerOptions, startApiServer } from './server.ts';
export { KUBERNETES_SERVICE_IP, SERVICE_CIDR } from './serviceips.ts';
