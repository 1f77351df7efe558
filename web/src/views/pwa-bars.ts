import { h } from '../dom';
import { t } from '../i18n';

/** "A new version is available — Update": shown while a new service worker waits. */
export function updateBanner(update: () => void) {
  const text = t();
  return h(
    'div',
    { class: 'pwa-bar', role: 'status', 'data-testid': 'update-banner' },
    h('span', null, text.updateAvailable),
    h('button', { type: 'button', class: 'button primary small', 'data-testid': 'update-now', onClick: update }, text.updateNow),
  );
}

/** The small, dismissible offer to be notified when the job ends; nothing asks for permission before a tap. */
export function pushOffer(accept: () => void, dismiss: () => void) {
  const text = t();
  return h(
    'div',
    { class: 'pwa-bar', 'data-testid': 'push-offer' },
    h('button', { type: 'button', class: 'button secondary small', 'data-testid': 'push-accept', onClick: accept }, `🔔 ${text.pushOffer}`),
    h('button', { type: 'button', class: 'ghost-button small', 'data-testid': 'push-dismiss', onClick: dismiss }, text.pushOfferDismiss),
  );
}
