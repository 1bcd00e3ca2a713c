/**
 * The routing decision: from the one live-color flag (and optional weights for a gradual shift) to what every
 * platform's router does. Pure, so platforms cannot disagree about it.
 */
import { Color, COLORS, otherColor } from "./conventions";

export interface RoutingDecision {
  /** Color that `bluegreen:liveColor` names. */
  liveColor: Color;
  /** The other color: where new versions land. */
  idleColor: Color;
  /** Color the preview (test) endpoint reaches: always the idle color. */
  previewColor: Color;
  /** Percent of production traffic per color; sums to 100. */
  weights: Record<Color, number>;
  /** True while both colors receive production traffic. */
  shifting: boolean;
}

export function decideRouting(liveColor: Color, weights?: Record<Color, number>): RoutingDecision {
  const idleColor = otherColor(liveColor);
  const effective = weights ?? (liveColor === "blue" ? { blue: 100, green: 0 } : { blue: 0, green: 100 });
  // Config validation reports these with key paths; this guards direct callers of the components.
  for (const color of COLORS) {
    const weight = effective[color];
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
      throw new Error(`weights.${color}: got ${String(weight)}; allowed: an integer from 0 to 100`);
    }
  }
  if (effective.blue + effective.green !== 100) {
    throw new Error(`weights: got ${JSON.stringify(effective)}; allowed: weights that sum to 100`);
  }
  if (effective[liveColor] === 0) {
    throw new Error(`weights.${liveColor}: the live color ${liveColor} must receive traffic, got 0`);
  }
  return {
    liveColor,
    idleColor,
    previewColor: idleColor,
    weights: { blue: effective.blue, green: effective.green },
    shifting: effective[idleColor] > 0,
  };
}
