// Who the cluster says the user is (docs/security.md, "intercept ownership"):
// a SelfSubjectReview (authentication.k8s.io/v1, Kubernetes 1.28+; every
// authenticated user may create one) returns the user name the API server
// authenticated — from a token, a client certificate or an exec plugin — so
// `devnet list` shows owners as RBAC knows them, not as laptops name
// themselves. Where the cluster does not answer, the kubeconfig's user name
// stands in, marked as such.
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';

/** ClusterUser is the user name and whether the cluster itself said it. */
export interface ClusterUser {
  name: string;
  /** verified: the API server answered a SelfSubjectReview with this name. */
  verified: boolean;
}

/** whoAmI asks the API server who the kubeconfig's credentials authenticate as. */
export async function whoAmI(kc: KubeConfig): Promise<ClusterUser> {
  try {
    const r = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const name = r.status?.userInfo?.username;
    if (name) return { name, verified: true };
  } catch {
    // an older cluster, or the review is not allowed: fall back below
  }
  return { name: `${kc.getCurrentUser()?.name ?? 'unknown'} (kubeconfig)`, verified: false };
}
