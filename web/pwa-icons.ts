import sharp from 'sharp';
import type { Plugin } from 'vite';

/** The app icon, drawn once: a ghost, crossed out. PNGs for the manifest and iOS are rendered from it with sharp. */
const BACKGROUND = '#0f1218';
const GHOST =
  '<path d="M136 236c0-70 52-126 120-126s120 56 120 126v166l-40-30-40 30-40-30-40 30-40-30-40 30z" fill="#8aa4ff"/>' +
  '<circle cx="214" cy="236" r="20" fill="#0f1218"/><circle cx="298" cy="236" r="20" fill="#0f1218"/>' +
  '<path d="M124 404L388 116" stroke="#ff8f8f" stroke-width="34" stroke-linecap="round"/>';

const svg = (inner: string, rounded: boolean) =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512"><rect width="512" height="512" rx="${rounded ? 112 : 0}" fill="${BACKGROUND}"/>${inner}</svg>`;

/** Maskable: full-bleed background, the ghost inside the 80% safe zone. */
const MASKABLE = svg(`<g transform="translate(76.8 76.8) scale(0.7)">${GHOST}</g>`, false);
const ICON = svg(GHOST, true);

const FILES: Record<string, () => Promise<Buffer | string>> = {
  'icons/icon.svg': async () => ICON,
  'icons/icon-192.png': () => sharp(Buffer.from(ICON)).resize(192, 192).png().toBuffer(),
  'icons/icon-512.png': () => sharp(Buffer.from(ICON)).resize(512, 512).png().toBuffer(),
  'icons/maskable-512.png': () => sharp(Buffer.from(MASKABLE)).resize(512, 512).png().toBuffer(),
  'icons/apple-touch-icon.png': () => sharp(Buffer.from(MASKABLE)).resize(180, 180).png().toBuffer(),
};

export function pwaIcons(): Plugin {
  return {
    name: 'ghostless-pwa-icons',
    async generateBundle() {
      for (const [fileName, render] of Object.entries(FILES)) {
        this.emitFile({ type: 'asset', fileName, source: await render() });
      }
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = req.url?.split('?')[0]?.replace(/^\//, '') ?? '';
        const render = FILES[name];
        if (!render) return next();
        render().then((body) => {
          res.setHeader('content-type', name.endsWith('.svg') ? 'image/svg+xml' : 'image/png');
          res.end(body);
        }, next);
      });
    },
  };
}
