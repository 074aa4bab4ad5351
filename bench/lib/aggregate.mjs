// Folds the per-repetition worker records into one cell per (variant, contender): a status and
// the median of every numeric metric across repetitions (the raw repetitions are kept too).

import { median } from './stats.mjs';

function medians(reps) {
  const out = {};
  for (const key of Object.keys(reps[0] ?? {})) {
    const values = reps.map((m) => m[key]);
    if (values.every((v) => typeof v === 'number')) out[key] = median(values);
    else if (values.every((v) => v === values[0])) out[key] = values[0];
  }
  return out;
}

/** records: [{ variant, contender, params, record }] in run order. */
export function aggregate(records) {
  const cells = {};
  for (const { variant, contender, params, record } of records) {
    cells[variant] ??= {};
    cells[variant][contender] ??= { status: 'ok', params, reps: [], messages: [] };
    const cell = cells[variant][contender];
    if (record.ok) cell.reps.push(record.metrics);
    else {
      cell.messages.push(record.message);
      if (record.status === 'not built' || cell.reps.length === 0) cell.status = record.status;
    }
  }
  for (const byContender of Object.values(cells)) {
    for (const cell of Object.values(byContender)) {
      if (cell.reps.length > 0) {
        cell.median = medians(cell.reps);
        if (cell.messages.length > 0) cell.status = 'ok (some repetitions failed)';
      }
    }
  }
  return cells;
}
