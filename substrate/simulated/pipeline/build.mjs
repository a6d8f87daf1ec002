// The data-construction pipeline of the simulated substrate (editable by workers). It turns the recipe's data
// section into the rows per domain the trainer sees; the trainer reads only its output (data-summary.json).
import { dataCounts } from '../sim/surface.mjs';

export function buildDataSummary(recipe) {
  return dataCounts(recipe);
}
