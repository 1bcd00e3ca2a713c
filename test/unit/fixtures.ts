/**
 * Happy-path stack configs (raw, as read from `bluegreen:*`) for each platform. Tests copy one and change one thing.
 */
import type { RawStackConfig } from "../../components/core/config";

export const BLUE_VERSION = "1.4.2";
export const GREEN_VERSION = "1.5.0-rc.1";

/** A service using every shared setting, so identity between colors is checked on all of them. */
export function webService(): Record<string, unknown> {
  return {
    port: 8080,
    image: "ghcr.io/acme/web",
    capacity: 3,
    healthCheck: {
      path: "/healthz",
      intervalSeconds: 10,
      timeoutSeconds: 4,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    },
    env: { LOG_LEVEL: "info", WORKERS: 4 },
    resources: { cpu: "250m", memory: "256Mi" },
    aws: { amiId: "ami-0abcdef1234567890", instanceType: "t3.small" },
    versions: { blue: BLUE_VERSION, green: GREEN_VERSION },
  };
}

export function apiService(): Record<string, unknown> {
  return {
    port: 9090,
    image: "ghcr.io/acme/api",
    capacity: 2,
    autoscaling: { minCapacity: 2, maxCapacity: 6, targetCpuPercent: 60 },
    healthCheck: { path: "/ready" },
    aws: { amiId: "ami-0abcdef1234567890" },
    versions: { blue: "2.0.0", green: "2.0.0" },
  };
}

export function awsConfig(overrides: Partial<RawStackConfig> = {}): RawStackConfig {
  return {
    platform: "aws",
    liveColor: "blue",
    aws: {
      vpcId: "vpc-0abc12345def67890",
      loadBalancerSubnetIds: ["subnet-0aaa11112222b3333", "subnet-0bbb11112222c4444"],
      instanceSubnetIds: ["subnet-0ccc11112222d5555", "subnet-0ddd11112222e6666"],
      // Public addresses (documentation range) of where the release tool verifies from.
      testListenerCidrs: ["203.0.113.0/24"],
    },
    services: { web: webService(), api: apiService() },
    ...overrides,
  };
}

export function kubernetesConfig(overrides: Partial<RawStackConfig> = {}): RawStackConfig {
  return {
    platform: "kubernetes",
    liveColor: "blue",
    kubernetes: { namespace: "shop", gatewayName: "public" },
    services: {
      web: { ...webService(), kubernetes: { preStopSeconds: 10, terminationGracePeriodSeconds: 45 } },
      // On kubernetes an autoscaled service needs a CPU request (the HPA scales on a percentage of it).
      api: { ...apiService(), resources: { cpu: "100m" } },
    },
    ...overrides,
  };
}

/** The ecs platform's happy path: the web service on Fargate (no EC2 block, no Kubernetes resources). */
export function ecsConfig(overrides: Partial<RawStackConfig> = {}): RawStackConfig {
  const { aws: _aws, resources: _resources, ...web } = webService();
  return {
    platform: "ecs",
    liveColor: "blue",
    ecs: {
      cluster: "shop",
      vpcId: "vpc-0abc12345def67890",
      loadBalancerSubnetIds: ["subnet-0aaa11112222b3333", "subnet-0bbb11112222c4444"],
      subnetIds: ["subnet-0ccc11112222d5555"],
      testListenerCidrs: ["203.0.113.0/24"],
    },
    services: { web: { ...web, ecs: { cpu: 512, memory: 1024 } } },
    ...overrides,
  };
}

/**
 * Deep copy of a raw config with the value at a dotted path (e.g. `services.web.weights`) replaced; `undefined`
 * removes the key. Intermediate objects are created as needed.
 */
export function withValue(config: RawStackConfig, dottedPath: string, value: unknown): RawStackConfig {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  const keys = dottedPath.split(".");
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node[key] = next !== null && typeof next === "object" ? next : {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (value === undefined) {
    delete node[last];
  } else {
    node[last] = value;
  }
  return copy;
}
