// Store adapters: the same Lua script over the user's own Redis client. Each returns a function
// `(keys, args) => Promise<array>` that runs LEASE_SCRIPT atomically.
//
// - node-redis (`redis` on npm, v4+): client.eval(script, { keys, arguments })
// - ioredis: client.eval(script, numKeys, ...keys, ...args)
// - Upstash (`@upstash/redis`, REST over fetch: Edge routes and Workers):
//   redis.eval(script, keys, args)

import { LEASE_SCRIPT } from './script.js';

/** Picks the adapter for `client`, or throws a TypeError saying what to pass. */
export function storeOf(client) {
  if (client !== null && typeof client === 'object' && typeof client.eval === 'function') {
    if (typeof client.defineCommand === 'function') {
      // ioredis
      return (keys, args) => client.eval(LEASE_SCRIPT, keys.length, ...keys, ...args.map(String));
    }
    if (typeof client.sendCommand === 'function') {
      // node-redis
      return (keys, args) => client.eval(LEASE_SCRIPT, { keys, arguments: args.map(String) });
    }
    if (typeof client.evalsha === 'function' && typeof client.pipeline === 'function') {
      // @upstash/redis
      return (keys, args) => client.eval(LEASE_SCRIPT, keys, args.map(String));
    }
  }
  throw new TypeError(
    'fleet.store must be a connected Redis client: node-redis (createClient().connect()), ioredis (new Redis()) or Upstash (new Redis({ url, token }) from @upstash/redis)',
  );
}
