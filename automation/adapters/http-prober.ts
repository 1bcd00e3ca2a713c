/**
 * Prober over Node's fetch (undici, keep-alive connections). A response is `ok` when the request's `accept` takes its
 * status, by default 2xx only: redirects are not followed and a 302 to a login page is not health. The
 * version and color come from `x-bluegreen-version` / `x-bluegreen-color` headers or, failing that, from a JSON
 * body's `version` / `color` fields (what the demo app and many services' /version endpoints answer).
 */
import type { ProbeRequest, ProbeResult, Prober } from "../ports";

const BODY_LIMIT = 4096;

export class HttpProber implements Prober {
  async probe(req: ProbeRequest): Promise<ProbeResult> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
    try {
      const res = await fetch(req.url, {
        signal,
        headers: { ...req.headers, "user-agent": "bluegreen-probe" },
        redirect: "manual",
      });
      const text = await res.text();
      const latencyMs = performance.now() - started;
      const body = text.slice(0, BODY_LIMIT);
      let json: Record<string, unknown> | undefined;
      if ((res.headers.get("content-type") ?? "").includes("json") || /^\s*\{/.test(body)) {
        try {
          const parsed: unknown = JSON.parse(text);
          if (typeof parsed === "object" && parsed !== null) json = parsed as Record<string, unknown>;
        } catch {
          // Not JSON after all: no version from the body.
        }
      }
      const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
      return {
        url: req.url,
        ok: (req.accept ?? isSuccess)(res.status),
        status: res.status,
        latencyMs,
        version: str(res.headers.get("x-bluegreen-version")) ?? str(json?.version),
        color: str(res.headers.get("x-bluegreen-color")) ?? str(json?.color),
        body,
      };
    } catch (err) {
      if (req.signal?.aborted) throw abortError(req.signal);
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const error = timeout.aborted
        ? `timeout after ${req.timeoutMs}ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
      return { url: req.url, ok: false, latencyMs: performance.now() - started, error };
    }
  }
}

/** 2xx: what counts as a good answer unless the caller says otherwise. */
export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === "AbortError") return reason;
  const err = new Error(typeof reason === "string" ? reason : "aborted");
  err.name = "AbortError";
  return err;
}
