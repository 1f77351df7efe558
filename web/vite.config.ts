import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { pwaIcons } from './pwa-icons.ts';
import { serviceWorker } from './service-worker.ts';

// `vite build web`: root is web/, output web/dist (served at / by the local stack, by CloudFront in AWS).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  publicDir: 'public',
  plugins: [
    pwaIcons(),
    serviceWorker(),
    {
      // /config.js is deployed per stage next to the bundle: a classic script in <head>, never bundled.
      name: 'ghostless-runtime-config',
      transformIndexHtml: {
        order: 'post',
        handler: () => [{ tag: 'script', attrs: { src: '/config.js' }, injectTo: 'head' }],
      },
    },
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: ['es2022', 'safari15'],
    sourcemap: true,
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:3000', '/s3': 'http://127.0.0.1:3000' },
  },
});
