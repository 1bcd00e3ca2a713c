/**
 * Whether the owner of a recorded release still runs, judged without comparing clocks across hosts. On this host
 * the pid answers it (release.ts `ownerState`). For an owner on another host, the only sound evidence is its
 * heartbeat: the owner rewrites the record every 15 s, so this process watches the stored record on its own clock,
 * and an owner whose record did not change for `--stale-after` (≥ 2 heartbeats) is gone. Two hosts whose clocks
 * disagree by hours judge the same way: neither reads the other's timestamps as times.
 */
import { decodeRecord, ReleaseRecord } from "./record/record";
import type { RunContext } from "./context";

/** Records whose owner was watched and found gone, by release id and heartbeat token. */
const gone = new Set<string>();

const token = (r: ReleaseRecord): string => `${r.id}|${r.updatedAt}|${r.owner?.host ?? ""}:${r.owner?.pid ?? ""}`;

export function isRemoteOwner(ctx: RunContext, r: ReleaseRecord | undefined): boolean {
  return !!r?.owner && r.owner.host !== ctx.deps.host.host;
}

/** True when this process watched `r`'s owner and its heartbeat stopped: the record may be taken over. */
export function watchedGone(r: ReleaseRecord): boolean {
  return gone.has(token(r));
}

/**
 * Watches the heartbeat of `r`'s owner on another host for up to `--stale-after`, and returns the record then stored:
 * the same one (and `watchedGone(r)` true) when nothing changed, else the newer record (its owner is alive, or the
 * release moved on), which the caller judges again. Records owned on this host are returned at once.
 */
export async function watchRemoteOwner(
  ctx: RunContext,
  r: ReleaseRecord | undefined,
): Promise<ReleaseRecord | undefined> {
  if (!r || !isRemoteOwner(ctx, r)) return r;
  const { clock } = ctx.deps;
  const limit = ctx.settings.staleAfterMs;
  const started = clock.now();
  ctx.emit({
    type: "log",
    level: "info",
    message:
      `release ${r.id} is owned by pid ${r.owner!.pid} on ${r.owner!.host}: watching its heartbeat for up to ` +
      `${Math.round(limit / 1000)}s (--stale-after) to tell whether it still runs`,
  });
  while (clock.now() - started < limit) {
    await clock.sleep(Math.min(2_000, limit), ctx.interrupts.soft);
    const now = decodeRecord((await ctx.deps.driver.readConfig({ repair: false })).release);
    if (!now || token(now) !== token(r)) return now;
  }
  gone.add(token(r));
  return r;
}
