import { AXIS_CATEGORY, Axis, AxisCategory } from '@aevo/contracts';

/**
 * The order in which the active category rotates (the anchor is not a search category); revision 0 starts on the
 * first category in this order that the campaign covers. The one rotation order of the system.
 */
export const ROTATION_ORDER: readonly AxisCategory[] = AxisCategory.options.filter((c) => c !== 'anchor');

/** Campaign axes of a category, in the canonical axis order, minus the retired ones. */
export function axesOf(category: AxisCategory, campaignAxes: readonly Axis[], retired: ReadonlySet<Axis>): Axis[] {
  return Axis.options.filter((a) => AXIS_CATEGORY[a] === category && campaignAxes.includes(a) && !retired.has(a));
}

/** The category after `from` in rotation order that still has an axis to explore; null when none other has. */
export function nextCategory(
  from: AxisCategory,
  campaignAxes: readonly Axis[],
  retired: ReadonlySet<Axis>,
): AxisCategory | null {
  const start = ROTATION_ORDER.indexOf(from);
  for (let k = 1; k <= ROTATION_ORDER.length; k++) {
    const c = ROTATION_ORDER[(start + k + ROTATION_ORDER.length) % ROTATION_ORDER.length];
    if (c !== from && axesOf(c, campaignAxes, retired).length > 0) return c;
  }
  return null;
}

/** The first category in rotation order that the campaign's axes cover; null when they name no search axis. */
export function firstCategory(campaignAxes: readonly Axis[]): AxisCategory | null {
  return ROTATION_ORDER.find((cat) => axesOf(cat, campaignAxes, new Set()).length > 0) ?? null;
}

/**
 * The axes of the categories after `from`, in rotation order (wrapping round, `from` itself excluded), each category's
 * in the canonical axis order, minus the retired ones: what rotation would reach next, nearest first.
 */
export function followingAxes(from: AxisCategory, campaignAxes: readonly Axis[], retired: ReadonlySet<Axis>): Axis[] {
  const start = ROTATION_ORDER.indexOf(from);
  const out: Axis[] = [];
  for (let k = 1; k < ROTATION_ORDER.length; k++)
    out.push(...axesOf(ROTATION_ORDER[(start + k) % ROTATION_ORDER.length], campaignAxes, retired));
  return out;
}
