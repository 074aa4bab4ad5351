// The load scenarios, by the names of the old wrapper's load-test scripts (basic, stress,
// recovery, 500, 1000, mixed), and the database operation each one issues.

/** name -> { ops, mix, terminateAt?, about } */
export const SCENARIOS = {
  basic: { ops: 15, mix: 'reads', about: '15 concurrent reads' },
  stress: { ops: 50, mix: 'reads', about: '50 concurrent reads, fired at once' },
  recovery: {
    ops: 2000,
    mix: 'mixed',
    terminateAt: 0.3,
    about: "2,000 mixed operations; the load's server connections are terminated at 30%",
  },
  500: { ops: 500, mix: 'reads', about: '500 concurrent reads' },
  1000: { ops: 1000, mix: 'reads', about: '1,000 concurrent reads' },
  mixed: { ops: 1000, mix: 'mixed', about: '1,000 concurrent reads and creates (30% creates)' },
};

/** The order `all` runs them in. */
export const ALL = ['basic', 'stress', '500', '1000', 'mixed', 'recovery'];

const USERS = 1000; // rows seeded by sql/schema.sql

/** A read: findUnique, findMany or count, by turns. */
function read(db, i) {
  switch (i % 3) {
    case 0:
      return db.user.findUnique({ where: { id: 1 + (i % USERS) } });
    case 1:
      return db.user.findMany({ take: 10, skip: i % (USERS - 10), orderBy: { id: 'asc' } });
    default:
      return db.user.count();
  }
}

/**
 * The i-th operation of a run: `db` is a Prisma client (gated or not); creates carry the unique
 * request id `${runId}-${i}`.
 */
export function operation(mix, db, i, runId) {
  if (mix === 'mixed' && i % 10 < 3) {
    return db.write.create({ data: { requestId: `${runId}-${i}`, label: 'load' } });
  }
  return read(db, i);
}
