import { h } from './dom';
import { t } from './i18n';

/**
 * Before/after slider: the result underneath, the original on top clipped at the handle. A real range
 * input drives it, so it works with touch, mouse, keyboard and screen readers. Both pictures are fitted
 * (letterboxed) into the result's proportions, so inputs of another shape (a pose, a garment) still line up.
 */
export function compareSlider(beforeUrl: string, afterUrl: string): HTMLElement {
  const text = t();
  const after = h('img', { class: 'compare-after', src: afterUrl, alt: text.after, decoding: 'async', 'data-testid': 'result-image' });
  const before = h('img', { class: 'compare-before', src: beforeUrl, alt: text.before, decoding: 'async' });
  const range = h('input', {
    type: 'range',
    min: 0,
    max: 100,
    value: '50',
    class: 'compare-range',
    'aria-label': text.compareLabel,
  });
  const box = h(
    'div',
    { class: 'compare' },
    after,
    h('div', { class: 'compare-clip' }, before),
    h('div', { class: 'compare-handle', 'aria-hidden': 'true' }),
    h('span', { class: 'compare-tag compare-tag-before', 'aria-hidden': 'true' }, text.before),
    h('span', { class: 'compare-tag compare-tag-after', 'aria-hidden': 'true' }, text.after),
    range,
  );
  // Through the CSSOM, not a style attribute: the CSP (style-src 'self') refuses inline style attributes.
  box.style.setProperty('--pos', '50%');
  range.addEventListener('input', () => box.style.setProperty('--pos', `${range.value}%`));

  const loaded = (img: HTMLImageElement) =>
    img.complete && img.naturalWidth
      ? Promise.resolve()
      : new Promise<void>((resolve) => img.addEventListener('load', () => resolve(), { once: true }));
  void loaded(after).then(() => {
    // The box takes the result's proportions so neither image is distorted.
    box.style.aspectRatio = `${after.naturalWidth} / ${after.naturalHeight}`;
  });
  return box;
}
