import { AXIS_CATEGORY, Axis, AxisCategory } from '@aevo/contracts';

/**
 * The order in which axis categories are explored (the anchor is not a search category). Same order as the
 * meta-policy's rotation, so revision 0 starts where the rotation rule would.
 */
export const ROTATION_ORDER: readonly AxisCategory[] = AxisCategory.options.filter((c) => c !== 'anchor');

/** The campaign's axes of one category, in canonical axis order. */
export const axesOfCategory = (category: AxisCategory, campaignAxes: readonly Axis[]): Axis[] =>
  Axis.options.filter((a) => AXIS_CATEGORY[a] === category && campaignAxes.includes(a));

/** The first category in rotation order that the campaign's axes cover; null when they name none. */
export const firstSearchCategory = (campaignAxes: readonly Axis[]): AxisCategory | null =>
  ROTATION_ORDER.find((c) => axesOfCategory(c, campaignAxes).length > 0) ?? null;
