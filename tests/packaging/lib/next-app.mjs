// The Next.js 16 consumer: the README's two route handlers plus the few files any App Router
// project has. No next.config: the package must need none.
import { example } from './readme.mjs';

export const ROUTES = ['app/api/burst-node/route.ts', 'app/api/burst-edge/route.ts'];
/** The URL path each route file serves (`app/api/x/route.ts` -> `/api/x`). */
export const routePath = (route) => route.replace(/^app/, '').replace(/\/route\.ts$/, '');

/** path -> text of the Next.js project. */
export function nextAppFiles() {
  const files = Object.fromEntries(ROUTES.map((r) => [r, example(r)]));
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
