/**
 * A local endpoint (127.0.0.1, ephemeral port) that speaks the slice of two AWS APIs the release tool calls, on the
 * wire protocols the real AWS SDK for JavaScript v3 uses for them:
 *
 * - Elastic Load Balancing v2, AWS query protocol (form-encoded POST, XML answers, version 2015-12-01):
 *   DescribeListeners, DescribeTargetHealth, ModifyListener (which changes the listener this server keeps, so a later
 *   DescribeListeners sees the move);
 * - CloudWatch, AWS JSON 1.0 (`X-Amz-Target: GraniteServiceVersion20100801.<Action>`): DescribeAlarms, and
 *   GetMetricData for a target group's AWS/ApplicationELB metrics (`traffic`), per period as CloudWatch answers: a
 *   count with no events in a period has no data point there, and periods not yet published have none either.
 *
 * Point the SDK at it with AWS_ENDPOINT_URL. Every request is recorded with its action, parameters and the SigV4
 * scope it was signed for (region/service), so tests can assert on what the SDK really sent. Errors come back in
 * AWS's own error shapes (query: `<ErrorResponse>`; JSON: `__type`).
 */
import * as http from "http";
import type { AddressInfo } from "net";

export interface FakeTarget {
  id: string;
  port: number;
  /** initial | healthy | unhealthy | unused | draining | unavailable */
  state: string;
  reason?: string;
}

export interface FakeForward {
  targetGroups: { arn: string; weight: number }[];
  stickiness?: { enabled: boolean; durationSeconds?: number };
}

export interface FakeListener {
  arn: string;
  loadBalancerArn: string;
  port: number;
  protocol: string;
  forward: FakeForward;
}

export interface RecordedRequest {
  service: "elasticloadbalancing" | "monitoring";
  action: string;
  /** Query parameters (ELBv2) or the JSON body (CloudWatch). */
  params: Record<string, unknown>;
  /** From the Authorization header's credential scope: what the SDK signed for. */
  signedRegion?: string;
  signedService?: string;
  accessKeyId?: string;
}

/** A target group's traffic as CloudWatch would have published it. */
export interface FakeTraffic {
  /** RequestCount per period. */
  requestsPerPeriod: number;
  /** Share of them answered 5xx by the targets (HTTPCode_Target_5XX_Count). */
  errorRate: number;
  /** TargetResponseTime average, seconds [0.012]. */
  responseTimeSec?: number;
  /** Periods ending after this (ms since the epoch) are not published yet: late data. */
  publishedUntilMs?: number;
}

export interface FakeFailure {
  code: string;
  message: string;
  status?: number;
}

const ELB_NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const members = (items: string[]): string => items.map((i) => `<member>${i}</member>`).join("");

function listenerXml(l: FakeListener): string {
  const tgs = members(
    l.forward.targetGroups.map(
      (t) => `<TargetGroupArn>${xmlEscape(t.arn)}</TargetGroupArn><Weight>${t.weight}</Weight>`,
    ),
  );
  const sticky = l.forward.stickiness
    ? `<TargetGroupStickinessConfig><Enabled>${l.forward.stickiness.enabled}</Enabled>` +
      (l.forward.stickiness.durationSeconds !== undefined
        ? `<DurationSeconds>${l.forward.stickiness.durationSeconds}</DurationSeconds>`
        : "") +
      "</TargetGroupStickinessConfig>"
    : "";
  return (
    `<ListenerArn>${xmlEscape(l.arn)}</ListenerArn><LoadBalancerArn>${xmlEscape(l.loadBalancerArn)}</LoadBalancerArn>` +
    `<Port>${l.port}</Port><Protocol>${l.protocol}</Protocol>` +
    `<DefaultActions>${members([
      `<Type>forward</Type><Order>1</Order><ForwardConfig><TargetGroups>${tgs}</TargetGroups>${sticky}</ForwardConfig>`,
    ])}</DefaultActions>`
  );
}

/** `Foo.member.1.Bar=x` form parameters as nested objects/arrays. */
export function parseQuery(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split(".");
    let node: Record<string, unknown> = root;
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const part = parts[i];
      if (part === "member") continue;
      if (last) {
        node[part] = value;
      } else {
        node[part] ??= {};
        node = node[part] as Record<string, unknown>;
      }
    }
  }
  return root;
}

/** `{ "1": a, "2": b }` (query lists) as `[a, b]`. */
export function listOf<T>(value: unknown): T[] {
  if (value === undefined || value === null) return [];
  return Object.entries(value as Record<string, T>)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, v]) => v);
}

export class FakeAws {
  readonly requests: RecordedRequest[] = [];
  readonly listeners = new Map<string, FakeListener>();
  readonly targetGroups = new Map<string, FakeTarget[]>();
  readonly alarms = new Map<string, string>();
  /** By the TargetGroup dimension (`targetgroup/<name>/<id>`). */
  readonly traffic = new Map<string, FakeTraffic>();
  /** Next answers per action: an error instead of the normal answer (consumed one per request). */
  private readonly failures = new Map<string, FakeFailure[]>();
  private server?: http.Server;
  url = "";

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        try {
          this.handle(req, Buffer.concat(chunks).toString("utf8"), res);
        } catch (err) {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(String(err));
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  failNext(action: string, failure: FakeFailure, times = 1): void {
    const list = this.failures.get(action) ?? [];
    for (let i = 0; i < times; i++) list.push(failure);
    this.failures.set(action, list);
  }

  /** Drops the failures not consumed yet (a test that queued more than it used). */
  clearFailures(): void {
    this.failures.clear();
  }

  requestsFor(action: string): RecordedRequest[] {
    return this.requests.filter((r) => r.action === action);
  }

  private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const auth = req.headers.authorization ?? "";
    const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
    const signed = scope ? { accessKeyId: scope[1], signedRegion: scope[2], signedService: scope[3] } : {};
    const target = req.headers["x-amz-target"];
    if (typeof target === "string") {
      const action = target.split(".").pop() ?? "";
      const params = body === "" ? {} : (JSON.parse(body) as Record<string, unknown>);
      this.requests.push({ service: "monitoring", action, params, ...signed });
      this.cloudWatch(action, params, res);
      return;
    }
    const params = parseQuery(body);
    const action = typeof params.Action === "string" ? params.Action : "";
    this.requests.push({ service: "elasticloadbalancing", action, params, ...signed });
    this.elb(action, params, res);
  }

  private takeFailure(action: string): FakeFailure | undefined {
    const list = this.failures.get(action);
    return list && list.length > 0 ? list.shift() : undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // ELBv2 (query protocol)

  private elbError(res: http.ServerResponse, f: FakeFailure): void {
    res.writeHead(f.status ?? 400, { "content-type": "text/xml" });
    res.end(
      `<ErrorResponse xmlns="${ELB_NS}"><Error><Type>Sender</Type><Code>${f.code}</Code>` +
        `<Message>${xmlEscape(f.message)}</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>`,
    );
  }

  private elbOk(res: http.ServerResponse, action: string, result: string): void {
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(
      `<${action}Response xmlns="${ELB_NS}"><${action}Result>${result}</${action}Result>` +
        `<ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata></${action}Response>`,
    );
  }

  private elb(action: string, params: Record<string, unknown>, res: http.ServerResponse): void {
    const failure = this.takeFailure(action);
    if (failure) return this.elbError(res, failure);
    switch (action) {
      case "DescribeListeners": {
        const arns = listOf<string>(params.ListenerArns);
        const found = arns.map((a) => this.listeners.get(a));
        if (found.some((l) => l === undefined)) {
          return this.elbError(res, { code: "ListenerNotFound", message: "One or more listeners not found" });
        }
        return this.elbOk(res, action, `<Listeners>${members(found.map((l) => listenerXml(l!)))}</Listeners>`);
      }
      case "DescribeTargetHealth": {
        const targets = this.targetGroups.get(String(params.TargetGroupArn));
        if (!targets) {
          return this.elbError(res, {
            code: "TargetGroupNotFound",
            message: `Target groups '${String(params.TargetGroupArn)}' not found`,
          });
        }
        const items = targets.map(
          (t) =>
            `<Target><Id>${t.id}</Id><Port>${t.port}</Port></Target><HealthCheckPort>${t.port}</HealthCheckPort>` +
            `<TargetHealth><State>${t.state}</State>${t.reason ? `<Reason>${t.reason}</Reason>` : ""}</TargetHealth>`,
        );
        return this.elbOk(res, action, `<TargetHealthDescriptions>${members(items)}</TargetHealthDescriptions>`);
      }
      case "ModifyListener": {
        const listener = this.listeners.get(String(params.ListenerArn));
        if (!listener)
          return this.elbError(res, { code: "ListenerNotFound", message: "One or more listeners not found" });
        const [action0] = listOf<Record<string, unknown>>(params.DefaultActions);
        const forward = action0?.ForwardConfig as Record<string, unknown> | undefined;
        if (!action0 || action0.Type !== "forward" || !forward) {
          return this.elbError(res, {
            code: "ValidationError",
            message: "a forward action with ForwardConfig is required",
          });
        }
        const groups = listOf<Record<string, string>>(forward.TargetGroups).map((t) => ({
          arn: t.TargetGroupArn,
          weight: Number(t.Weight ?? "1"),
        }));
        for (const g of groups) {
          if (!this.targetGroups.has(g.arn)) {
            return this.elbError(res, { code: "TargetGroupNotFound", message: `Target groups '${g.arn}' not found` });
          }
        }
        // As AWS answers: an enabled stickiness without a duration in range is refused.
        const sticky = forward.TargetGroupStickinessConfig as Record<string, string> | undefined;
        const duration = sticky?.DurationSeconds === undefined ? undefined : Number(sticky.DurationSeconds);
        if (sticky?.Enabled === "true" && (duration === undefined || duration < 1 || duration > 604800)) {
          return this.elbError(res, {
            code: "ValidationError",
            message: "Target group stickiness duration must be between 1 and 604800 seconds",
          });
        }
        listener.forward = {
          targetGroups: groups,
          ...(sticky ? { stickiness: { enabled: sticky.Enabled === "true", durationSeconds: duration } } : {}),
        };
        return this.elbOk(res, action, `<Listeners>${members([listenerXml(listener)])}</Listeners>`);
      }
      default:
        return this.elbError(res, { code: "InvalidAction", message: `Could not find operation ${action}` });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // CloudWatch (AWS JSON 1.0)

  private cloudWatch(action: string, params: Record<string, unknown>, res: http.ServerResponse): void {
    const failure = this.takeFailure(action);
    if (failure) {
      res.writeHead(failure.status ?? 400, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify({ __type: `com.amazonaws.cloudwatch#${failure.code}`, message: failure.message }));
      return;
    }
    if (action === "GetMetricData") return this.getMetricData(params, res);
    if (action !== "DescribeAlarms") {
      res.writeHead(400, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify({ __type: "com.amazonaws.cloudwatch#InvalidAction", message: action }));
      return;
    }
    const names = (params.AlarmNames as string[] | undefined) ?? [...this.alarms.keys()];
    const found = names.filter((n) => this.alarms.has(n));
    res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
    res.end(
      JSON.stringify({
        MetricAlarms: found.map((name) => ({
          AlarmName: name,
          AlarmArn: `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${name}`,
          StateValue: this.alarms.get(name),
          StateReason: `fake state ${this.alarms.get(name)}`,
          Namespace: "AWS/ApplicationELB",
        })),
        CompositeAlarms: [],
      }),
    );
  }

  /** Only what the release tool asks: AWS/ApplicationELB per TargetGroup + LoadBalancer, Sum or Average. */
  private getMetricData(params: Record<string, unknown>, res: http.ServerResponse): void {
    const seconds = (v: unknown): number => (typeof v === "number" ? v : Date.parse(String(v)) / 1000);
    const from = seconds(params.StartTime);
    const to = seconds(params.EndTime);
    type Query = {
      Id: string;
      MetricStat: {
        Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] };
        Period: number;
        Stat: string;
      };
    };
    const results = ((params.MetricDataQueries as Query[] | undefined) ?? []).map((q) => {
      const m = q.MetricStat.Metric;
      const tg = m.Dimensions.find((d) => d.Name === "TargetGroup")?.Value ?? "";
      const hasLb = m.Dimensions.some((d) => d.Name === "LoadBalancer" && d.Value.startsWith("app/"));
      const t = m.Namespace === "AWS/ApplicationELB" && hasLb ? this.traffic.get(tg) : undefined;
      const period = q.MetricStat.Period;
      const timestamps: number[] = [];
      const values: number[] = [];
      for (let s = Math.floor(from / period) * period; t && s < to; s += period) {
        if (t.publishedUntilMs !== undefined && (s + period) * 1000 > t.publishedUntilMs) continue;
        const errors = Math.round(t.requestsPerPeriod * t.errorRate);
        const value =
          m.MetricName === "RequestCount"
            ? t.requestsPerPeriod
            : m.MetricName === "HTTPCode_Target_5XX_Count"
              ? errors
              : m.MetricName === "TargetResponseTime"
                ? (t.responseTimeSec ?? 0.012)
                : 0;
        // As CloudWatch: a count that saw no event in a period has no data point.
        if (value === 0 && m.MetricName !== "TargetResponseTime") continue;
        timestamps.push(s);
        values.push(value);
      }
      return { Id: q.Id, Label: m.MetricName, Timestamps: timestamps, Values: values, StatusCode: "Complete" };
    });
    res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
    res.end(JSON.stringify({ MetricDataResults: results, Messages: [] }));
  }
}
