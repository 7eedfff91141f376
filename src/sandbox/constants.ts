// Fixed facts of the sandbox cluster's network: the ranges real clusters
// (kubeadm, kind) use by default, so devnet sees what it would see there.

/** SERVICE_CIDR is the ClusterIP range, the default of kube-apiserver's --service-cluster-ip-range. */
export const SERVICE_CIDR = '10.96.0.0/12';
/** POD_CIDR is the cluster's pod range (kind's default). */
export const POD_CIDR = '10.244.0.0/16';
/** NODE_POD_CIDR is the slice of POD_CIDR given to the one sandbox node. */
export const NODE_POD_CIDR = '10.244.0.0/24';
/** KUBERNETES_SERVICE_IP is the `kubernetes` Service's ClusterIP, where pods reach the API server. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
/** CLUSTER_DNS_IP is the kube-dns Service's ClusterIP, the resolver in every pod's resolv.conf. */
export const CLUSTER_DNS_IP = '10.96.0.10';
/** CLUSTER_DOMAIN is the cluster's DNS suffix. */
export const CLUSTER_DOMAIN = 'cluster.local';
/** NODE_NAME is the name of the sandbox's Node object. */
export const NODE_NAME = 'sandbox-node';
/** NODE_GATEWAY is the link-local address every pod uses as its default gateway (the node end of its veth). */
export const NODE_GATEWAY = '169.254.1.1';
/** NODE_IP is the node's own address (hostIP), on the node namespace's loopback. */
export const NODE_IP = '10.244.0.1';
/** API_PORT is the API server's default port on the host's 127.0.0.1. */
export const API_PORT = 16443;
/** DEFAULT_PREFIX names every network namespace the sandbox makes (`<prefix>-node`, `<prefix>-<pod>`). */
export const DEFAULT_PREFIX = 'devnet-sbx';
/** CONTEXT_ADMIN and CONTEXT_DEV are the kubeconfig context names for the admin and the developer user. */
export const CONTEXT_ADMIN = 'devnet-sandbox';
export const CONTEXT_DEV = 'devnet-sandbox-dev';
