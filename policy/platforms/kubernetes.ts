/**
 * The kubernetes platform's facts for the pack (Deployments + Services): the pack's copy of
 * components/kubernetes/policy-facts.ts (the pack cannot import the program; test/policy/platform-facts.test.ts
 * asserts both stay equal).
 */
import type { PlatformPolicyFacts } from "./facts";

export const kubernetesPolicyFacts: PlatformPolicyFacts = {
  capacityPaths: {
    "kubernetes:apps/v1:Deployment": ["spec.replicas"],
    "kubernetes:apps/v1:StatefulSet": ["spec.replicas"],
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler": ["spec.minReplicas", "spec.maxReplicas"],
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": ["spec.minReplicas", "spec.maxReplicas"],
    "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler": ["spec.minReplicas", "spec.maxReplicas"],
  },
  zeroCapacityPaths: {
    "kubernetes:apps/v1:Deployment": ["spec.replicas"],
    "kubernetes:apps/v1:StatefulSet": ["spec.replicas"],
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler": ["spec.maxReplicas"],
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": ["spec.maxReplicas"],
    "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler": ["spec.maxReplicas"],
  },
  /** Server-side metadata of every object (key ending in ":": a type prefix); the Deployment controller counts each
   * color's rollouts; a Service's cluster IPs and node ports are assigned per object. */
  ignoredPaths: {
    "kubernetes:": [
      "metadata.name",
      "metadata.generateName",
      "metadata.uid",
      "metadata.resourceVersion",
      "metadata.creationTimestamp",
      "metadata.generation",
      "metadata.managedFields",
      "metadata.selfLink",
      'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]',
      "status",
    ],
    "kubernetes:apps/v1:Deployment": ['metadata.annotations["deployment.kubernetes.io/revision"]'],
    "kubernetes:core/v1:Service": [
      "spec.clusterIP",
      "spec.clusterIPs",
      "spec.ports[*].nodePort",
      "spec.healthCheckNodePort",
    ],
  },
  versionFields: {},
  tagPaths: { "kubernetes:": "metadata.labels" },
  resourceTypes: {
    podWorkload: ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"],
    selectorService: ["kubernetes:core/v1:Service"],
    httpRoute: [
      "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
      "kubernetes:gateway.networking.k8s.io/v1beta1:HTTPRoute",
    ],
    ingress: ["kubernetes:networking.k8s.io/v1:Ingress"],
    stateless: [
      "kubernetes:core/v1:Service",
      "kubernetes:networking.k8s.io/v1:Ingress",
      "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    ],
  },
};
