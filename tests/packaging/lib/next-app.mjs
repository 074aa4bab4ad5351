// The Next.js 16 consumer: the README's two route handlers plus the few files any App Router
// project has. No next.config: the package must need none.
import { example } from './readme.mjs';

export const ROUTES = ['app/api/burst-node/route.ts', 'app/api/burst-edge/route.ts'];
/** Routes of this test's own (not README examples): error names and nested calls, per runtime. */
export const ERROR_ROUTES = ['app/api/errors-node/route.ts', 'app/api/errors-edge/route.ts'];

/**
 * A route that makes each of poolgate's errors happen and reports, from inside the production
 * bundle, their `name`, `code` and `instanceof`; plus a nested `pool.run` on a pool of one
 * (Next.js provides AsyncLocalStorage in both runtimes, so it runs on its caller's slot).
 */
function errorRoute(runtime) {
  return `import {
  ConnectionPool,
  OperationTimeoutError,
  PoolClosedError,
  PoolgateError,
  QueueFullError,
  QueueTimeoutError,
} from 'poolgate';

export const runtime = '${runtime}';
export const dynamic = 'force-dynamic';

async function failure(make: () => Promise<unknown>): Promise<PoolgateError> {
  try {
    await make();
  } catch (e) {
    return e as PoolgateError;
  }
  throw new Error('expected a failure');
}

const hold = () => new Promise<void>((resolve) => setTimeout(resolve, 50));

export async function GET() {
  const full = new ConnectionPool({ maxConnections: 1, maxQueue: 0 });
  const busy = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 0 });
  const slow = new ConnectionPool({ maxConnections: 1 });
  const closed = new ConnectionPool({ maxConnections: 1 });
  const held = [full.run(hold), busy.run(hold)];
  closed.close();
  const cases: [PoolgateError, Function][] = [
    [await failure(() => full.run(hold)), QueueFullError],
    [await failure(() => busy.run(hold)), QueueTimeoutError],
    [await failure(() => slow.run(hold, { timeoutMs: 1 })), OperationTimeoutError],
    [await failure(() => closed.run(hold)), PoolClosedError],
  ];
  await Promise.all(held);
  const errors = cases.map(([e, cls]) => ({
    name: e.name,
    code: e.code,
    isClass: e instanceof cls,
    isPoolgateError: e instanceof PoolgateError,
  }));
  const one = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 2000 });
  const nested = await one
    .run(() => one.run(async () => 'inner'))
    .catch((e: PoolgateError) => e.name);
  return Response.json({ errors, nested });
}
`;
}

/** What each error route answers. */
export const EXPECTED_ERRORS = {
  errors: [
    ['QueueFullError', 'POOLGATE_QUEUE_FULL'],
    ['QueueTimeoutError', 'POOLGATE_QUEUE_TIMEOUT'],
    ['OperationTimeoutError', 'POOLGATE_OPERATION_TIMEOUT'],
    ['PoolClosedError', 'POOLGATE_CLOSED'],
  ].map(([name, code]) => ({ name, code, isClass: true, isPoolgateError: true })),
  nested: 'inner',
};
/** The URL path each route file serves (`app/api/x/route.ts` -> `/api/x`). */
export const routePath = (route) => route.replace(/^app/, '').replace(/\/route\.ts$/, '');

/** path -> text of the Next.js project. */
export function nextAppFiles() {
  const files = Object.fromEntries(ROUTES.map((r) => [r, example(r)]));
  files[ERROR_ROUTES[0]] = errorRoute('nodejs');
  files[ERROR_ROUTES[1]] = errorRoute('edge');
  files['package.json'] = `${JSON.stringify(
    { name: 'consumer-next', private: true, scripts: { build: 'next build', start: 'next start' } },
    null,
    2,
  )}\n`;
  files['tsconfig.json'] = `${JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        lib: ['dom', 'dom.iterable', 'esnext'],
        allowJs: true,
        strict: true,
        noEmit: true,
        module: 'esnext',
        moduleResolution: 'bundler',
        esModuleInterop: true,
        resolveJsonModule: true,
        isolatedModules: true,
        jsx: 'react-jsx',
        incremental: true,
        skipLibCheck: true,
        plugins: [{ name: 'next' }],
      },
      include: [
        'next-env.d.ts',
        '**/*.ts',
        '**/*.tsx',
        '.next/types/**/*.ts',
        '.next/dev/types/**/*.ts',
      ],
      exclude: ['node_modules'],
    },
    null,
    2,
  )}\n`;
  return files;
}
