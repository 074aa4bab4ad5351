-- Tables of prisma/schema.prisma, created with plain SQL: Prisma 7's CLI needs its native
-- schema engine (downloaded at run time) for `db push` and `migrate`, and cannot create tables
-- offline. Prefixed, because the load tool may run on your own database. Idempotent.
-- `poolgate_writes.request_id` is indexed but deliberately not unique, so a write that ran twice
-- is visible as two rows.

CREATE TABLE IF NOT EXISTS poolgate_users (
  id    serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name  text NOT NULL
);

CREATE TABLE IF NOT EXISTS poolgate_writes (
  id         serial PRIMARY KEY,
  request_id text NOT NULL,
  label      text NOT NULL,
  created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS poolgate_writes_request_id_idx ON poolgate_writes (request_id);

-- 1,000 users to read.
INSERT INTO poolgate_users (email, name)
SELECT 'user' || g || '@example.test', 'User ' || g
FROM generate_series(1, 1000) AS g
ON CONFLICT (email) DO NOTHING;
