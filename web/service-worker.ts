import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'vite';

const SOURCE = fileURLToPath(new URL('./sw/sw.ts', import.meta.url));
/** Public files (copied as they are, not in the bundle) the shell needs offline. */
const PUBLIC_SHELL = ['/config.js', '/manifest.webmanifest'];

/**
 * Emits `sw.js` at the root of the build: web/sw/sw.ts bundled by esbuild, with the list of the build's files to
 * precache and a build id (a hash of every file's content) that names its cache. A new build is a new worker, which
 * the SPA offers to activate ("Update").
 */
export function serviceWorker(): Plugin {
  return {
    name: 'ghostless-service-worker',
    apply: 'build',
    enforce: 'post',
    async generateBundle(_options, bundle) {
      const files = Object.values(bundle)
        .filter((file) => !file.fileName.endsWith('.map'))
        .sort((a, b) => a.fileName.localeCompare(b.fileName));
      const hash = createHash('sha256');
      for (const file of files) hash.update(file.fileName).update(file.type === 'chunk' ? file.code : file.source);
      const precache = [
        ...files.map((file) => `/${file.fileName}`).filter((name) => name !== '/index.html'),
        '/index.html',
        ...PUBLIC_SHELL,
      ];
      const result = await build({
        entryPoints: [SOURCE],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2020',
        minify: true,
        define: { __PRECACHE__: JSON.stringify(precache), __BUILD__: JSON.stringify(hash.digest('hex').slice(0, 16)) },
      });
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: result.outputFiles[0]?.text ?? '' });
    },
  };
}
