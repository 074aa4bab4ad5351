// Contender "seed wrapper": a JavaScript port of the TypeScript wrapper poolgate replaces
// (seed 002: class ConnectionPool + withConnectionPool), kept faithful on purpose: the queue is
// an array drained with shift(), and every call races the operation against a 30 s timer that
// is never cleared. No queue-wait timeout (the 30 s timer starts only once a slot is held).

export const info = {
  queueTimeout: false,
  // Array#shift on a deep queue is O(n): S1 runs at 100k ops instead of 1M.
  deepQueueOps: 100_000,
};

class ConnectionPool {
  constructor(maxConnections) {
    this.maxConnections = maxConnections;
    this.activeConnections = 0;
    this.connectionQueue = [];
  }

  async getConnection() {
    return new Promise((resolve) => {
      if (this.activeConnections < this.maxConnections) {
        this.activeConnections++;
        resolve();
      } else {
        this.connectionQueue.push(resolve);
      }
    });
  }

  releaseConnection() {
    this.activeConnections--;
    if (this.connectionQueue.length > 0) {
      const nextConnection = this.connectionQueue.shift();
      if (nextConnection) {
        this.activeConnections++;
        nextConnection();
      }
    }
  }

  getPoolStats() {
    return {
      activeConnections: this.activeConnections,
      maxConnections: this.maxConnections,
      queuedConnections: this.connectionQueue.length,
      availableConnections: this.maxConnections - this.activeConnections,
    };
  }
}

async function withConnectionPool(connectionPool, operation, timeout = 30000) {
  await connectionPool.getConnection();
  try {
    const result = await Promise.race([
      operation(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('Timeout de connexion')), timeout),
      ),
    ]);
    return result;
  } finally {
    connectionPool.releaseConnection();
  }
}

export async function create({ limit }) {
  const pool = new ConnectionPool(limit);
  return {
    run: (op) => withConnectionPool(pool, op),
    queued: () => pool.getPoolStats().queuedConnections,
    isQueueTimeout: () => false,
    close() {},
  };
}
