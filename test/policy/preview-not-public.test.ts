/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call --
   fixture props are deliberately untyped JSON that each test pokes one change into */
import { awsGraph, expectCount, expectOne, kubernetesGraph, runPack, runPolicy, urnOf } from "./fixtures";
import { previewNotPublicPolicy } from "../../policy/preview-not-public";

const P = "bluegreen-preview-not-public";
const TEST_LISTENER = urnOf("aws:lb/listener:Listener", "web-test-listener");

describe("bluegreen-preview-not-public", () => {
  it("flags the test listener port open to 0.0.0.0/0 in the load balancer security group", async () => {
    const g = awsGraph();
    g.props("web-alb-sg").ingress[1].cidrBlocks = ["10.0.0.0/8", "0.0.0.0/0"];
    expectOne(
      await runPack(g.build()),
      P,
      [
        'service "web": the test listener "web-test-listener" (preview-router, port 8443) is open to the internet',
        'ingress[1] of load-balancer-sg "web-alb-sg" allows 0.0.0.0/0 on ports 8443-8443',
      ],
      TEST_LISTENER,
    );
  });

  it("flags ::/0 and all-protocol rules", async () => {
    const g = awsGraph();
    g.props("web-alb-sg").ingress.push({ protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] });
    expectOne(await runPack(g.build()), P, ["allows ::/0 on ports all"]);
  });

  it("flags a separate ingress rule resource, linked by id or (preview) by dependency", async () => {
    const g = awsGraph().add("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "web-preview-open", {
      securityGroupId: "sg-0123",
      ipProtocol: "tcp",
      fromPort: 8000,
      toPort: 9000,
      cidrIpv4: "0.0.0.0/0",
    });
    expectOne(await runPack(g.build()), P, ['rule "web-preview-open"', "allows 0.0.0.0/0 on ports 8000-9000"]);
    g.props("web-preview-open").securityGroupId = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    expectCount(await runPack(g.build()), 0); // unknown id and no dependency: cannot tell, no false positive
    g.get("web-preview-open").deps = { securityGroupId: ["web-alb-sg"] };
    expectOne(await runPack(g.build()), P, ['rule "web-preview-open"']);
  });

  it("flags a legacy aws:ec2/securityGroupRule", async () => {
    const g = awsGraph().add("aws:ec2/securityGroupRule:SecurityGroupRule", "web-legacy", {
      type: "ingress",
      securityGroupId: "sg-0123",
      protocol: "tcp",
      fromPort: 8443,
      toPort: 8443,
      cidrBlocks: ["0.0.0.0/0"],
    });
    expectOne(await runPack(g.build()), P, ['rule "web-legacy" (aws:ec2/securityGroupRule:SecurityGroupRule)']);
  });

  it("accepts a public test port on an internal load balancer, or when allowPublic", async () => {
    const g = awsGraph();
    g.props("web-alb-sg").ingress[1].cidrBlocks = ["0.0.0.0/0"];
    expectCount(await runPolicy(previewNotPublicPolicy(), g.build(), { allowPublic: true }), 0);
    g.props("web-alb").internal = true;
    expectCount(await runPack(g.build()), 0);
  });

  it("flags a LoadBalancer or NodePort preview Service unless allowed", async () => {
    const g = kubernetesGraph();
    g.props("web-preview").spec.type = "LoadBalancer";
    expectOne(await runPack(g.build()), P, ['the preview Service "web-preview" has spec.type "LoadBalancer"']);
    g.props("web-preview").spec.type = "NodePort";
    expectOne(await runPack(g.build()), P, ['spec.type "NodePort"']);
    const config = { allowPreviewServiceTypes: ["NodePort"] };
    expectCount(await runPolicy(previewNotPublicPolicy(), g.build(), config), 0);
  });

  it("flags an Ingress that routes to the preview Service unless its class is internal", async () => {
    const g = kubernetesGraph().add("kubernetes:networking.k8s.io/v1:Ingress", "web-preview-ingress", {
      metadata: { name: "web-preview-ingress", namespace: "shop" },
      spec: {
        ingressClassName: "nginx",
        rules: [
          {
            host: "preview.example.com",
            http: {
              paths: [
                { path: "/", pathType: "Prefix", backend: { service: { name: "web-preview", port: { number: 80 } } } },
              ],
            },
          },
        ],
      },
    });
    expectOne(await runPack(g.build()), P, [
      'Ingress "web-preview-ingress"',
      '(class "nginx") routes to the preview Service preview-service "web-preview"',
    ]);
    expectCount(await runPolicy(previewNotPublicPolicy(), g.build(), { internalIngressClasses: ["nginx"] }), 0);
  });

  it("flags an HTTPRoute on a public gateway that routes to the preview Service", async () => {
    const g = kubernetesGraph().add("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "web-preview-route", {
      metadata: { name: "web-preview-route", namespace: "shop" },
      spec: { parentRefs: [{ name: "public-gateway" }], rules: [{ backendRefs: [{ name: "web-preview", port: 80 }] }] },
    });
    expectOne(await runPack(g.build()), P, [
      'HTTPRoute "web-preview-route"',
      'on gateway "public-gateway" routes to the preview Service',
    ]);
    expectCount(await runPolicy(previewNotPublicPolicy(), g.build(), { internalGateways: ["public-gateway"] }), 0);
  });
});
