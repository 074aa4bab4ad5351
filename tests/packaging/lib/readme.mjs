// Reads the runtime examples out of the README, so the consumer projects run exactly the code a
// user copies. Only the region between `<!-- runtimes:begin` and `<!-- runtimes:end -->` counts;
// in it, every fenced block whose info string carries `title="PATH"` is one file of an example.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** Map of title (a path inside a consumer project) to the file's text. */
export function readmeFiles(path = README) {
  const text = readFileSync(path, 'utf8');
  const begin = text.indexOf('<!-- runtimes:begin');
  const end = text.indexOf('<!-- runtimes:end -->');
  if (begin < 0 || end < begin) throw new Error(`${path}: no runtimes:begin/end region`);
  const region = text.slice(begin, end);
  const files = new Map();
  const fence = /^```[\w-]*[^\S\n]+title="([^"]+)"[^\n]*\n([\s\S]*?)^```[^\S\n]*$/gm;
  for (const [, title, body] of region.matchAll(fence)) {
    if (files.has(title)) throw new Error(`README: two examples titled ${title}`);
    files.set(title, body);
  }
  return files;
}

/** The README example titled `title`; throws if the README lost it. */
export function example(title) {
  const body = readmeFiles().get(title);
  if (body === undefined) throw new Error(`README runtimes region has no block titled "${title}"`);
  return body;
}
