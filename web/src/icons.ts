import type { ToolId } from '../../lambdas/domain/catalog';

/** Small stroke icons, inline so they inherit the text colour. */
const PATHS: Record<ToolId | 'ghost' | 'sign-out', string> = {
  'upscale-image':
    '<rect x="3" y="6" width="12" height="12" rx="2"/><path d="M6 15l2.5-3 2 2 1.5-2 2 3"/><path d="M15 3h6v6"/><path d="M21 3l-7 7"/>',
  'upscale-video':
    '<rect x="3" y="6" width="12" height="12" rx="2"/><path d="M8 9.5v5l4-2.5z"/><path d="M15 3h6v6"/><path d="M21 3l-7 7"/>',
  'pose-changer':
    '<circle cx="12" cy="4.5" r="2"/><path d="M12 7v7"/><path d="M6 9.5l6-1.5 6-2"/><path d="M12 14l-4 7"/><path d="M12 14l4 7"/>',
  'try-on': '<path d="M8 3l4 2 4-2 5 4-3 3-2-1v12H8V9l-2 1-3-3z"/>',
  'sign-out': '<path d="M9 4H6a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h3"/><path d="M15 7l5 5-5 5"/><path d="M20 12H9"/>',
  ghost:
    '<path d="M5 11a7 7 0 0 1 14 0v10l-2.5-2-2.3 2-2.2-2-2.2 2-2.3-2L5 21z"/><circle cx="9.5" cy="11" r="1"/><circle cx="14.5" cy="11" r="1"/>',
};

export function icon(name: keyof typeof PATHS, size = 24): SVGSVGElement {
  const template = document.createElement('template');
  template.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${PATHS[name]}</svg>`;
  return template.content.firstElementChild as SVGSVGElement;
}
