/**
 * The file of one of our modules that exists where we run, for `new Worker(…)`. In a checkout Node runs the `.ts`
 * sources; the package ships them compiled to `.js` (dist/). tsc rewrites `.ts` import specifiers, not URL strings,
 * so a worker's entry is written as the source names it — `runnable(new URL('./x.ts', import.meta.url))`, which is
 * also how the layer test sees the dependency — and this swaps the extension when this module itself was compiled.
 */
export function runnable(url: URL): URL {
  return COMPILED && url.pathname.endsWith('.ts') ? new URL(`${url.href.slice(0, -'.ts'.length)}.js`) : url;
}

const COMPILED = import.meta.url.endsWith('.js');
