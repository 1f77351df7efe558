import { h, rebuild } from '../dom';
import { lang, t } from '../i18n';
import { icon } from '../icons';
import type { AppStore } from '../state';
import { watch } from '../store';

export interface HeaderActions {
  toggleLang(): void;
  signOut(): void;
}

/** Brand, balance, language switch, sign-out. */
export function mountHeader(header: HTMLElement, store: AppStore, actions: HeaderActions) {
  watch(
    store,
    (s) => `${s.lang}|${s.session?.userId ?? ''}|${s.session?.label ?? ''}|${s.balance}`,
    (s) => {
      const text = t();
      const session = s.session;
      rebuild(
        header,
        h('div', { class: 'brand' }, icon('ghost', 26), h('span', null, 'Ghostless')),
        h(
          'div',
          { class: 'top-actions' },
          session && s.balance !== null
            ? h(
                'span',
                { class: 'balance', 'data-testid': 'balance', 'aria-live': 'polite' },
                h('span', { class: 'visually-hidden' }, text.balancePrefix),
                text.credits(s.balance),
              )
            : null,
          h(
            'button',
            {
              type: 'button',
              class: 'ghost-button lang-toggle',
              lang: lang() === 'en' ? 'pt-BR' : 'en',
              'aria-label': text.langToggleLabel,
              'data-focus': 'lang',
              onClick: actions.toggleLang,
            },
            lang() === 'en' ? 'PT' : 'EN',
          ),
          session
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'ghost-button icon-button',
                  'data-focus': 'signout',
                  'aria-label': text.signOut,
                  title: `${text.signOut} (${session.label})`,
                  onClick: actions.signOut,
                },
                icon('sign-out', 22),
              )
            : null,
        ),
      );
    },
  );
}
