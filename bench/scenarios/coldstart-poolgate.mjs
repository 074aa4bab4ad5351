// Cold start with poolgate: a fresh Node process imports poolgate, creates a pool, completes one
// operation through it and closes it. Timed by the driver against coldstart-bare.mjs.

import { ConnectionPool } from 'poolgate';

const pool = new ConnectionPool({ maxConnections: 10, maxQueue: 100, queueTimeoutMs: 60_000 });
const op = async () => 1;
if ((await pool.run(op)) !== 1) process.exit(1);
pool.close();
